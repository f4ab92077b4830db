package remote

import (
	"encoding/json"

	"github.com/fxamacker/cbor/v2"
)

// Codec encodes a task's argument and result for the wire. Both sides of a
// queue must use the same codec. Implementations must be safe for
// concurrent use.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default Codec, encoding/json.
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// CBOR is a Codec for RFC 8949 CBOR (github.com/fxamacker/cbor/v2):
// smaller and faster to decode than JSON, and it keeps []byte, integers
// beyond 2^53 and non-finite floats that JSON cannot carry. Struct fields
// are matched by name as with encoding/json (json tags are honoured).
var CBOR Codec = cborCodec{}

type cborCodec struct{}

func (cborCodec) Marshal(v any) ([]byte, error)      { return cbor.Marshal(v) }
func (cborCodec) Unmarshal(data []byte, v any) error { return cbor.Unmarshal(data, v) }
