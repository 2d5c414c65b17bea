package wire

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseIdentifyFull(t *testing.T) {
	body := `{"client_id":"cid","hostname":"host.example","user_agent":"go-nsq/1.1.0",
		"feature_negotiation":true,"heartbeat_interval":30000,"output_buffer_size":16384,
		"output_buffer_timeout":250,"tls_v1":true,"snappy":true,"deflate":true,
		"deflate_level":9,"sample_rate":42,"msg_timeout":60000}`
	got, err := ParseIdentify([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := IdentifyRequest{
		ClientID: "cid", Hostname: "host.example", UserAgent: "go-nsq/1.1.0",
		FeatureNegotiation: true, HeartbeatInterval: 30000, OutputBufferSize: 16384,
		OutputBufferTimeout: 250, TLSv1: true, Snappy: true, Deflate: true,
		DeflateLevel: 9, SampleRate: 42, MsgTimeout: 60000,
	}
	if got != want {
		t.Fatalf("ParseIdentify = %+v\nwant %+v", got, want)
	}
}

// tcp-protocol.md 1.5.1: encoding/json semantics.
func TestParseIdentifyRules(t *testing.T) {
	tests := []struct {
		name string
		body string
		want IdentifyRequest
	}{
		{"empty object", `{}`, IdentifyRequest{}},
		{"case-insensitive keys",
			`{"CLIENT_ID":"a","Hostname":"h","User_Agent":"u","FEATURE_NEGOTIATION":true,"Heartbeat_Interval":1000,"TLS_V1":true,"SAMPLE_RATE":5,"Msg_Timeout":2000}`,
			IdentifyRequest{ClientID: "a", Hostname: "h", UserAgent: "u", FeatureNegotiation: true, HeartbeatInterval: 1000, TLSv1: true, SampleRate: 5, MsgTimeout: 2000}},
		{"unknown keys ignored",
			`{"short_id":"s","long_id":"l","foo":{"nested":[1,2.5,"x",null]},"bar":1.5,"baz":"str","client_id":"c"}`,
			IdentifyRequest{ClientID: "c"}},
		{"null is absent",
			`{"client_id":null,"hostname":null,"user_agent":null,"feature_negotiation":null,"heartbeat_interval":null,
			"output_buffer_size":null,"output_buffer_timeout":null,"tls_v1":null,"snappy":null,"deflate":null,
			"deflate_level":null,"sample_rate":null,"msg_timeout":null}`,
			IdentifyRequest{}},
		{"negative values", `{"heartbeat_interval":-1,"output_buffer_size":-1,"output_buffer_timeout":-1,"deflate_level":-3}`,
			IdentifyRequest{HeartbeatInterval: -1, OutputBufferSize: -1, OutputBufferTimeout: -1, DeflateLevel: -3}},
		{"whitespace", " \n{ \"client_id\" : \"x\" }\n ", IdentifyRequest{ClientID: "x"}},
		{"escapes", `{"client_id":"a\"b\\c\u00e9"}`, IdentifyRequest{ClientID: "a\"b\\c\u00e9"}},
		{"false bools", `{"tls_v1":false,"snappy":false}`, IdentifyRequest{}},
		{"topology keys ignored", `{"topology_region":5,"topology_zone":{"a":1}}`, IdentifyRequest{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIdentify([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseIdentify(%s): %v", tt.body, err)
			}
			if got != tt.want {
				t.Fatalf("ParseIdentify(%s) = %+v, want %+v", tt.body, got, tt.want)
			}
		})
	}
}

func TestParseIdentifyErrors(t *testing.T) {
	tests := []string{
		``,
		` `,
		`{`,
		`{"client_id":"a"`,
		`{"client_id":"a"}x`,
		`{"client_id":"a"} {}`,
		`[]`,
		`"string"`,
		`42`,
		`{"heartbeat_interval":30000.0}`, // float for an int field
		`{"heartbeat_interval":1.5}`,
		`{"msg_timeout":1e3}`,
		`{"output_buffer_size":"16384"}`, // string for an int field
		`{"sample_rate":4294967296}`,     // overflows int32
		`{"tls_v1":"true"}`,              // string for a bool field
		`{"snappy":1}`,                   // number for a bool field
		`{"feature_negotiation":"yes"}`,
		`{"deflate":0}`,
		`{"client_id":5}`, // number for a string field
		`{"client_id":true}`,
		`{"hostname":{}}`,
		`{client_id:"a"}`,
		`{'client_id':'a'}`,
		"{\"client_id\":\"a\x00\"}",
	}
	for _, body := range tests {
		got, err := ParseIdentify([]byte(body))
		if !errors.Is(err, ErrIdentifyJSON) {
			t.Errorf("ParseIdentify(%q) = %+v, %v; want ErrIdentifyJSON", body, got, err)
			continue
		}
		if got != (IdentifyRequest{}) {
			t.Errorf("ParseIdentify(%q) returned non-zero request on error: %+v", body, got)
		}
	}
	// The caller sends "E_BAD_BODY " + this text.
	if got := Fatal(ErrCodeBadBody, ErrIdentifyJSON.Error()).Error(); got != "E_BAD_BODY IDENTIFY failed to decode JSON body" {
		t.Fatalf("error text %q", got)
	}
}

// tcp-protocol.md 1.5.1: the feature-negotiation reply has exactly these keys
// in this order.
func TestIdentifyResponseJSON(t *testing.T) {
	resp := IdentifyResponse{
		MaxRdyCount:         2500,
		Version:             "1.3.0",
		MaxMsgTimeout:       900000,
		MsgTimeout:          60000,
		TLSv1:               true,
		Deflate:             false,
		DeflateLevel:        6,
		MaxDeflateLevel:     6,
		Snappy:              true,
		SampleRate:          0,
		AuthRequired:        false,
		OutputBufferSize:    16384,
		OutputBufferTimeout: 250,
	}
	got, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,` +
		`"tls_v1":true,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":true,` +
		`"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250}`
	if string(got) != want {
		t.Fatalf("IdentifyResponse JSON\n got %s\nwant %s", got, want)
	}

	// Zero values are still present (no omitempty).
	got, _ = json.Marshal(IdentifyResponse{})
	want = `{"max_rdy_count":0,"version":"","max_msg_timeout":0,"msg_timeout":0,"tls_v1":false,` +
		`"deflate":false,"deflate_level":0,"max_deflate_level":0,"snappy":false,"sample_rate":0,` +
		`"auth_required":false,"output_buffer_size":0,"output_buffer_timeout":0}`
	if string(got) != want {
		t.Fatalf("zero IdentifyResponse JSON\n got %s\nwant %s", got, want)
	}
}

// tcp-protocol.md 1.5.3.
func TestAuthResponseJSON(t *testing.T) {
	got, err := json.Marshal(AuthResponse{Identity: "user", IdentityURL: "http://x/u", PermissionCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"identity":"user","identity_url":"http://x/u","permission_count":2}`; string(got) != want {
		t.Fatalf("AuthResponse JSON %s, want %s", got, want)
	}
}

// A request marshalled by a client (as go-nsq does) parses back to itself.
func TestIdentifyRequestRoundTrip(t *testing.T) {
	in := IdentifyRequest{ClientID: "c", Hostname: "h", UserAgent: "nsqkit", FeatureNegotiation: true,
		HeartbeatInterval: 5000, OutputBufferSize: 64, OutputBufferTimeout: 10, Deflate: true,
		DeflateLevel: 3, SampleRate: 99, MsgTimeout: 1000}
	js, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseIdentify(js)
	if err != nil || out != in {
		t.Fatalf("round trip %+v, %v", out, err)
	}
}
