package server

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// requestCodec is the server's protobuf codec. It differs from gRPC's own in
// one way: a request that does not decode (invalid UTF-8 in a string field,
// say) is not failed inside gRPC, which would report INTERNAL, but handed to
// the handler empty, with the decoding error remembered; the interceptor
// chain then answers INVALID_ARGUMENT, as a client that sent bad bytes
// should be told.
type requestCodec struct {
	failed sync.Map // request message → decoding error
}

var _ encoding.CodecV2 = (*requestCodec)(nil)

// Name implements encoding.CodecV2; it replaces the default "proto" codec.
func (c *requestCodec) Name() string { return "proto" }

// Marshal implements encoding.CodecV2.
func (c *requestCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("server codec: %T is not a proto message", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// Unmarshal implements encoding.CodecV2.
func (c *requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("server codec: %T is not a proto message", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	if err := proto.Unmarshal(buf.ReadOnlyData(), m); err != nil {
		proto.Reset(m)
		c.failed.Store(m, err)
	}
	return nil
}

// decodeError returns (and forgets) the decoding error of req, if any.
func (c *requestCodec) decodeError(req any) error {
	if err, ok := c.failed.LoadAndDelete(req); ok {
		return err.(error)
	}
	return nil
}
