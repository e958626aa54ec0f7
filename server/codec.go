package server

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// requestCodec is the server's protobuf codec. It differs from gRPC's own in
// one way: a request that does not decode (invalid UTF-8 in a string field,
// say) is not failed inside gRPC, which would report INTERNAL, but handed on
// empty, carrying its decoding error; the interceptors then answer
// INVALID_ARGUMENT, as a client that sent bad bytes should be told: the
// unary chain before authentication (checkedCall), and on streams RecvMsg
// itself (checkStreamDecoding).
//
// The decoding error is kept in the message it belongs to, and nowhere
// else. gRPC gives Unmarshal the bytes and the message to fill, not the
// call, so the message is the one object of the call that Unmarshal can
// reach; it is also exactly as long-lived as what the error describes. The
// error is written as the message's only unknown field, numbered
// failedField (unknown fields are the one place a message holds bytes
// outside its schema, and no handler reads them), and is freed with the
// message when its call ends, whether or not any interceptor looked at it.
// So the codec holds no state at all, and a path that never checks (a
// streaming method without the stream interceptor, a unary call that gRPC
// refuses after decoding because a second message followed) cannot leak.
// An earlier version kept a map from message to error that only the unary
// interceptor emptied: every undecodable message on a stream (health Watch
// and reflection are open to anyone) left an entry behind for good.
//
// The codec is stateless and safe for concurrent use.
type requestCodec struct{}

var _ encoding.CodecV2 = requestCodec{}

// failedField is the field number of the unknown field in which
// requestCodec records a decoding error: the largest valid field number,
// which no forum message uses. The codec removes it from a request that
// decodes, so a client cannot mark its own request as undecodable.
const failedField = protowire.MaxValidNumber

// Name implements encoding.CodecV2; it replaces the default "proto" codec.
func (requestCodec) Name() string { return "proto" }

// Marshal implements encoding.CodecV2. An encodedMessage, already in its
// wire form, goes as it is.
func (requestCodec) Marshal(v any) (mem.BufferSlice, error) {
	if e, ok := v.(encodedMessage); ok {
		return mem.BufferSlice(e), nil
	}
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

// Unmarshal implements encoding.CodecV2. A message that does not decode is
// reset and marked with its error (decodeError returns it); Unmarshal then
// returns nil, so that gRPC hands the message on instead of failing the
// call with INTERNAL.
func (requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("server codec: %T is not a proto message", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	r := m.ProtoReflect()
	if err := proto.Unmarshal(buf.ReadOnlyData(), m); err != nil {
		proto.Reset(m)
		mark := protowire.AppendTag(nil, failedField, protowire.BytesType)
		r.SetUnknown(protowire.AppendString(mark, err.Error()))
		return nil
	}
	if u := r.GetUnknown(); len(u) > 0 {
		if _, found := findField(u, failedField); found {
			r.SetUnknown(withoutField(u, failedField))
		}
	}
	return nil
}

// decodeError returns the decoding error that requestCodec recorded in the
// request message req, or nil if req decoded (or is not a proto message).
// It reads the message only: the record goes away with the message.
func decodeError(req any) error {
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	u := m.ProtoReflect().GetUnknown()
	if len(u) == 0 { // nearly every request: no unknown fields at all
		return nil
	}
	text, found := findField(u, failedField)
	if !found {
		return nil
	}
	return errors.New(string(text))
}

// findField returns the value of the first length-delimited field numbered
// num in the encoded fields b. It stops at the first malformed field.
func findField(b []byte, num protowire.Number) (value []byte, found bool) {
	for len(b) > 0 {
		n, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return nil, false
		}
		valueLen := protowire.ConsumeFieldValue(n, typ, b[tagLen:])
		if valueLen < 0 {
			return nil, false
		}
		if n == num && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[tagLen:])
			return v, true
		}
		b = b[tagLen+valueLen:]
	}
	return nil, false
}

// withoutField returns the encoded fields b without those numbered num, in
// a new slice. A malformed tail is kept as it is.
func withoutField(b []byte, num protowire.Number) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		n, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return append(out, b...)
		}
		valueLen := protowire.ConsumeFieldValue(n, typ, b[tagLen:])
		if valueLen < 0 {
			return append(out, b...)
		}
		if n != num {
			out = append(out, b[:tagLen+valueLen]...)
		}
		b = b[tagLen+valueLen:]
	}
	return out
}
