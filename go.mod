module github.com/nsqkit/nsqkit

go 1.26

require (
	github.com/klauspost/compress v1.18.0
	github.com/nsqio/go-diskqueue v1.1.0
	github.com/nsqio/go-nsq v1.1.0
	go.uber.org/goleak v1.3.0
)

require github.com/golang/snappy v0.0.1 // indirect
