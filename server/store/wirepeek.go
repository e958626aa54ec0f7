package store

import (
	"errors"
	"fmt"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/encoding/protowire"
)

// The readers of the log that look at many records and need few of their
// fields (the notifications' deriver) read those fields from the wire
// format, without unmarshalling the rest: a reply's rendering, which is as
// large as its body and is validated as UTF-8 when unmarshalled, or an
// event's resource.

// errWire is a record that is not valid protobuf wire format.
var errWire = errors.New("invalid wire format")

// wireFields calls f with the number, type and value of each field of the
// protobuf message m (for a length-delimited field, its bytes; for a
// varint, its value in n), until f returns false.
func wireFields(m []byte, f func(num protowire.Number, typ protowire.Type, b []byte, n uint64) bool) error {
	for len(m) > 0 {
		num, typ, l := protowire.ConsumeTag(m)
		if l < 0 {
			return errWire
		}
		m = m[l:]
		var b []byte
		var n uint64
		switch typ {
		case protowire.BytesType:
			b, l = protowire.ConsumeBytes(m)
		case protowire.VarintType:
			n, l = protowire.ConsumeVarint(m)
		default:
			l = protowire.ConsumeFieldValue(num, typ, m)
		}
		if l < 0 {
			return errWire
		}
		m = m[l:]
		if !f(num, typ, b, n) {
			return nil
		}
	}
	return nil
}

// eventTypeOf returns the type of the event record v (forumv1.Event's
// field 5), without unmarshalling the event.
func eventTypeOf(v []byte) (forumv1.EventType, error) {
	var t forumv1.EventType
	err := wireFields(v, func(num protowire.Number, typ protowire.Type, _ []byte, n uint64) bool {
		if num == 5 && typ == protowire.VarintType {
			t = forumv1.EventType(n)
		}
		return true // the last one wins, as in proto.Unmarshal
	})
	return t, err
}

// readThreadString returns string field num of thread id's record, read
// from the wire without decoding the thread (its body and rendering);
// empty if it is not set or the thread is gone.
func readThreadString(tx kv.Tx, id uint64, num protowire.Number) (string, error) {
	v, err := tx.Get(bucketThreads, threadKey(id))
	if err != nil || v == nil {
		return "", err
	}
	var s string
	err = wireFields(v, func(n protowire.Number, typ protowire.Type, b []byte, _ uint64) bool {
		if n == num && typ == protowire.BytesType {
			s = string(b)
		}
		return true
	})
	if err != nil {
		return "", fmt.Errorf("store: corrupt record in %s: %w", bucketThreads, err)
	}
	return s, nil
}

// replyHead is what the deriver needs of a reply.
type replyHead struct {
	name, body, author, inReplyTo string
	deleted                       bool
}

// readReplyHead reads reply id of thread as replyHead: forumv1.Reply's
// fields name (1), body (2), author (4), in_reply_to (5) and whether
// delete_time (8) is set. It returns an error wrapping errs.NotFound if
// there is no such reply.
func readReplyHead(tx kv.Tx, thread, id uint64) (replyHead, error) {
	v, err := tx.Get(bucketReplies, replyKey(thread, id))
	if err != nil {
		return replyHead{}, err
	}
	if v == nil {
		return replyHead{}, fmt.Errorf("%w: reply %s", errs.NotFound, resname.Reply{Thread: resname.Thread{ID: thread}, ID: id})
	}
	var h replyHead
	err = wireFields(v, func(num protowire.Number, typ protowire.Type, b []byte, _ uint64) bool {
		if typ != protowire.BytesType {
			return true
		}
		switch num {
		case 1:
			h.name = string(b)
		case 2:
			h.body = string(b)
		case 4:
			h.author = string(b)
		case 5:
			h.inReplyTo = string(b)
		case 8:
			h.deleted = true
		}
		return true
	})
	if err != nil {
		return replyHead{}, fmt.Errorf("store: corrupt record in %s: %w", bucketReplies, err)
	}
	return h, nil
}
