package wire

import (
	"encoding/json"
	"errors"
)

// IdentifyRequest is the JSON body of IDENTIFY (tcp-protocol.md 1.5.1).
// Unknown keys are ignored; keys match case-insensitively.
type IdentifyRequest struct {
	ClientID            string `json:"client_id"`
	Hostname            string `json:"hostname"`
	UserAgent           string `json:"user_agent"`
	FeatureNegotiation  bool   `json:"feature_negotiation"`
	HeartbeatInterval   int    `json:"heartbeat_interval"`
	OutputBufferSize    int    `json:"output_buffer_size"`
	OutputBufferTimeout int    `json:"output_buffer_timeout"`
	TLSv1               bool   `json:"tls_v1"`
	Snappy              bool   `json:"snappy"`
	Deflate             bool   `json:"deflate"`
	DeflateLevel        int    `json:"deflate_level"`
	SampleRate          int32  `json:"sample_rate"`
	MsgTimeout          int    `json:"msg_timeout"`
	// topology_region / topology_zone (newer clients) are ignored like
	// every unknown key, whatever their type.
}

// ErrIdentifyJSON is returned for a body that is not a valid IDENTIFY object.
var ErrIdentifyJSON = errors.New("IDENTIFY failed to decode JSON body")

// ParseIdentify decodes an IDENTIFY body.
func ParseIdentify(body []byte) (IdentifyRequest, error) {
	var r IdentifyRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return IdentifyRequest{}, ErrIdentifyJSON
	}
	return r, nil
}

// IdentifyResponse is the JSON reply to an IDENTIFY with feature negotiation,
// its keys in the order nsqd sends them.
type IdentifyResponse struct {
	MaxRdyCount         int64  `json:"max_rdy_count"`
	Version             string `json:"version"`
	MaxMsgTimeout       int64  `json:"max_msg_timeout"`
	MsgTimeout          int64  `json:"msg_timeout"`
	TLSv1               bool   `json:"tls_v1"`
	Deflate             bool   `json:"deflate"`
	DeflateLevel        int    `json:"deflate_level"`
	MaxDeflateLevel     int    `json:"max_deflate_level"`
	Snappy              bool   `json:"snappy"`
	SampleRate          int32  `json:"sample_rate"`
	AuthRequired        bool   `json:"auth_required"`
	OutputBufferSize    int    `json:"output_buffer_size"`
	OutputBufferTimeout int64  `json:"output_buffer_timeout"`
}

// AuthResponse is the JSON reply to AUTH.
type AuthResponse struct {
	Identity        string `json:"identity"`
	IdentityURL     string `json:"identity_url"`
	PermissionCount int    `json:"permission_count"`
}
