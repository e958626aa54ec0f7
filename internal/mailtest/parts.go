package mailtest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// ErrNoPart is the error of Part when the message has no part of the
// media type asked for.
var ErrNoPart = errors.New("mailtest: no such part")

// Subject returns the message's Subject header, its RFC 2047 encoded
// words decoded (or as it is if they do not decode).
func (r Received) Subject() string {
	raw := r.Header.Get("Subject")
	dec, err := new(mime.WordDecoder).DecodeHeader(raw)
	if err != nil {
		return raw
	}
	return dec
}

// Text returns the content of the message's first text/plain part,
// decoded.
func (r Received) Text() (string, error) { return r.Part("text/plain") }

// HTML returns the content of the message's first text/html part,
// decoded.
func (r Received) HTML() (string, error) { return r.Part("text/html") }

// Part returns the content of the first part of media type mediaType
// ("text/plain"), searching nested multiparts depth first, with its
// Content-Transfer-Encoding (quoted-printable, base64, 7bit, 8bit)
// undone. Its charset must be UTF-8 or US-ASCII (or absent). A message
// without such a part gives ErrNoPart.
func (r Received) Part(mediaType string) (string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		return "", fmt.Errorf("mailtest: reading message: %w", err)
	}
	s, ok, err := findPart(textproto.MIMEHeader(msg.Header), msg.Body, mediaType, 0)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrNoPart, mediaType)
	}
	return s, nil
}

// ContentTypes returns the media types of the message's parts, depth
// first, multiparts included ("multipart/alternative", "text/plain",
// "text/html").
func (r Received) ContentTypes() ([]string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		return nil, fmt.Errorf("mailtest: reading message: %w", err)
	}
	var types []string
	err = walkParts(textproto.MIMEHeader(msg.Header), msg.Body, 0, func(mt string, _ textproto.MIMEHeader, _ io.Reader) (bool, error) {
		types = append(types, mt)
		return false, nil
	})
	return types, err
}

// maxDepth bounds the nesting of multiparts.
const maxDepth = 8

// findPart looks for a part of type want in the entity of header h and
// body body.
func findPart(h textproto.MIMEHeader, body io.Reader, want string, depth int) (string, bool, error) {
	var found string
	var ok bool
	err := walkParts(h, body, depth, func(mt string, h textproto.MIMEHeader, body io.Reader) (bool, error) {
		if mt != want || body == nil {
			return false, nil
		}
		s, err := decodeBody(h, body)
		if err != nil {
			return false, err
		}
		found, ok = s, true
		return true, nil
	})
	return found, ok, err
}

// walkParts calls f with the media type, header and body of the entity
// and of each of its parts, depth first, until f returns true or an
// error.
func walkParts(h textproto.MIMEHeader, body io.Reader, depth int, f func(mt string, h textproto.MIMEHeader, body io.Reader) (bool, error)) error {
	_, err := walk(h, body, depth, f)
	return err
}

func walk(h textproto.MIMEHeader, body io.Reader, depth int, f func(string, textproto.MIMEHeader, io.Reader) (bool, error)) (bool, error) {
	if depth > maxDepth {
		return false, errors.New("mailtest: multiparts nested too deep")
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return false, fmt.Errorf("mailtest: Content-Type %q: %w", ct, err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		return f(mt, h, body)
	}
	if done, err := f(mt, h, nil); done || err != nil {
		return done, err
	}
	if params["boundary"] == "" {
		return false, fmt.Errorf("mailtest: %s without boundary", mt)
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("mailtest: reading %s: %w", mt, err)
		}
		if done, err := walk(p.Header, p, depth+1, f); done || err != nil {
			return done, err
		}
	}
}

// decodeBody reads body and undoes its Content-Transfer-Encoding.
func decodeBody(h textproto.MIMEHeader, body io.Reader) (string, error) {
	if ct := h.Get("Content-Type"); ct != "" {
		_, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return "", fmt.Errorf("mailtest: Content-Type %q: %w", ct, err)
		}
		if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
			return "", fmt.Errorf("mailtest: charset %q is not UTF-8", cs)
		}
	}
	switch cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))); cte {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // skips line ends
	case "", "7bit", "8bit", "binary":
	default:
		return "", fmt.Errorf("mailtest: unknown Content-Transfer-Encoding %q", cte)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("mailtest: decoding body: %w", err)
	}
	return string(b), nil
}
