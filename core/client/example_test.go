package client_test

import (
	"log"
	"os"
	"os/signal"

	"github.com/nsqkit/nsqkit/core/client"
)

func ExampleProducer() {
	cfg := client.NewConfig()
	// Options by name, as --producer-opt gives them.
	if err := cfg.SetOpt("publish_round_robin"); err != nil {
		log.Fatal(err)
	}
	p, err := client.NewProducer(cfg, "127.0.0.1:4150", "127.0.0.1:4250")
	if err != nil {
		log.Fatal(err)
	}
	defer p.Stop() // flushes outstanding publishes

	// Retried on the other nsqd if one goes away; an empty body or a bad
	// topic name is refused here, before anything is sent.
	if err := p.Publish("events", []byte(`{"hello":"world"}`)); err != nil {
		log.Print(err)
	}
	for _, n := range p.Nodes() {
		log.Printf("%s %s %v", n.Addr, n.State, n.LastError)
	}
}

func ExampleConsumer() {
	cfg := client.NewConfig()
	cfg.MaxInFlight = 100
	c, err := client.NewConsumer("events", "archive", cfg)
	if err != nil {
		log.Fatal(err)
	}
	c.AddConcurrentHandlers(client.HandlerFunc(func(m *client.Message) error {
		log.Printf("%s", m.Body)
		return nil // FIN; an error would REQ and back off
	}), 4)
	if err := c.ConnectToNSQLookupd("127.0.0.1:4161", "127.0.0.1:4261"); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	c.Stop()
	<-c.StopChan
}
