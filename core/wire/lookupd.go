package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// nsqlookupd's protocol V1 (tcp-protocol.md Part 2), server side: command
// lines, the IDENTIFY body, the REGISTER/UNREGISTER arguments and the
// size-prefixed replies [u32 size][data] (no frame type).

// MaxV1LineLength bounds a V1 command line (v1.3.0 has no bound; the
// longest real line, REGISTER with two 64-byte names, is 140 bytes).
const MaxV1LineLength = 16 * 1024

// MaxV1BodySize bounds the IDENTIFY body. v1.3.0 reads whatever size the
// peer announces (and crashes on a negative one); ReadBody rejects sizes
// above this or below 0 with a fatal E_BAD_BODY.
const MaxV1BodySize = 5 * 1024 * 1024

// V1Reader reads V1 command lines and bodies from a connection.
type V1Reader struct {
	r *bufio.Reader
}

// NewV1Reader reads from r through a buffer of MaxV1LineLength.
func NewV1Reader(r io.Reader) *V1Reader {
	return &V1Reader{r: bufio.NewReaderSize(r, MaxV1LineLength)}
}

// ReadCommand reads one line ending in LF, trims leading and trailing
// white space (as bytes.TrimSpace: \r, tabs, Unicode spaces) and splits
// what is left on every single space, so params[0] is the command name
// (possibly empty) and empty params appear between doubled spaces. A
// line longer than MaxV1LineLength gives ErrLineTooLong; a last line
// without LF gives the read error (io.EOF).
func (v *V1Reader) ReadCommand() ([]string, error) {
	line, err := v.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, ErrLineTooLong
		}
		return nil, err
	}
	return strings.Split(string(bytes.TrimSpace(line)), " "), nil
}

// ReadBody reads the [u32 size][data] body that follows cmd's line. The
// errors are fatal E_BAD_BODY: "<cmd> failed to read body size",
// "<cmd> invalid body size <n>" (n < 0, where 1.3.0 crashes, or
// n > maxSize) and "<cmd> failed to read body". Size 0 is an empty body,
// as in 1.3.0 (whose JSON decoding then fails).
func (v *V1Reader) ReadBody(cmd string, maxSize int32) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(v.r, hdr[:]); err != nil {
		return nil, Fatal(ErrCodeBadBody, cmd+" failed to read body size")
	}
	size := int32(binary.BigEndian.Uint32(hdr[:]))
	if size < 0 || size > maxSize {
		return nil, Fatal(ErrCodeBadBody, cmd+" invalid body size "+strconv.Itoa(int(size)))
	}
	// grow with the data actually received rather than trusting the size
	buf := bytes.NewBuffer(make([]byte, 0, min(int(size), 64*1024)))
	if n, err := buf.ReadFrom(io.LimitReader(v.r, int64(size))); err != nil || n != int64(size) {
		return nil, Fatal(ErrCodeBadBody, cmd+" failed to read body")
	}
	return buf.Bytes(), nil
}

// AppendV1Response appends a V1 reply [u32 size][data] to dst.
func AppendV1Response(dst, data []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
	return append(dst, data...)
}

// ReadV1Response reads one V1 reply (the client side). A size above
// maxSize (when maxSize > 0) is ErrFrameTooBig.
func ReadV1Response(r io.Reader, maxSize int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := int64(binary.BigEndian.Uint32(hdr[:]))
	if maxSize > 0 && size > int64(maxSize) {
		return nil, fmt.Errorf("%w: %d > %d", ErrFrameTooBig, size, maxSize)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// ParseV1TopicChannel checks the arguments of REGISTER and UNREGISTER
// (params without the command name): a valid topic and an optional valid
// channel ("" when absent or empty); more params are ignored. Errors are
// fatal, with cmd in the text:
// "E_INVALID <cmd> insufficient number of params",
// "E_BAD_TOPIC <cmd> topic name '<t>' is not valid",
// "E_BAD_CHANNEL <cmd> channel name '<c>' is not valid".
func ParseV1TopicChannel(cmd string, params []string) (topic, channel string, err error) {
	if len(params) == 0 {
		return "", "", Fatal(ErrCodeInvalid, cmd+" insufficient number of params")
	}
	topic = params[0]
	if len(params) >= 2 {
		channel = params[1]
	}
	if !IsValidTopicName(topic) {
		return "", "", Fatal(ErrCodeBadTopic, fmt.Sprintf("%s topic name '%s' is not valid", cmd, topic))
	}
	if channel != "" && !IsValidChannelName(channel) {
		return "", "", Fatal(ErrCodeBadChannel, fmt.Sprintf("%s channel name '%s' is not valid", cmd, channel))
	}
	return topic, channel, nil
}

// LookupdIdentify is the JSON body of a V1 IDENTIFY, as nsqd sends it.
// Unknown keys are ignored; keys match case-insensitively.
type LookupdIdentify struct {
	Version          string `json:"version"`
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
	Hostname         string `json:"hostname"`
	BroadcastAddress string `json:"broadcast_address"`
}

// ParseLookupdIdentify decodes a V1 IDENTIFY body and requires
// broadcast_address, tcp_port, http_port and version. Errors are fatal
// E_BAD_BODY "IDENTIFY failed to decode JSON body" or
// "IDENTIFY missing fields".
func ParseLookupdIdentify(body []byte) (LookupdIdentify, error) {
	var id LookupdIdentify
	if err := json.Unmarshal(body, &id); err != nil {
		return LookupdIdentify{}, Fatal(ErrCodeBadBody, "IDENTIFY failed to decode JSON body")
	}
	if id.BroadcastAddress == "" || id.TCPPort == 0 || id.HTTPPort == 0 || id.Version == "" {
		return LookupdIdentify{}, Fatal(ErrCodeBadBody, "IDENTIFY missing fields")
	}
	return id, nil
}

// LookupdIdentifyResponse is nsqlookupd's reply to IDENTIFY, its keys in
// the order v1.3.0 sends them.
type LookupdIdentifyResponse struct {
	BroadcastAddress string `json:"broadcast_address"`
	Hostname         string `json:"hostname"`
	HTTPPort         int    `json:"http_port"`
	TCPPort          int    `json:"tcp_port"`
	Version          string `json:"version"`
}
