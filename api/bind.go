package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/licensing-service/licensing/internal/licensing"
)

// MaxBodyBytes is the largest request body accepted (413 beyond it).
const MaxBodyBytes = 1 << 20

// bindJSON decodes the request body into dst. Unknown fields are ignored;
// an empty body decodes as {}. It returns a licensing.Error for a wrong
// content type (415), a body over MaxBodyBytes (413), malformed JSON (400)
// or a value of the wrong type (400 with the field).
func bindJSON(c *gin.Context, dst any) error {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return licensing.Errorf(licensing.CodeUnsupportedMedia, "the body must be application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return licensing.Errorf(licensing.CodeBodyTooLarge, "the body is larger than %d bytes", MaxBodyBytes)
		}
		return licensing.Errorf(licensing.CodeMalformedJSON, "the body could not be read")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	return decodeJSON(body, dst)
}

// decodeJSON decodes one JSON value into dst, translating decoder errors.
func decodeJSON(body []byte, dst any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "(body)"
			}
			return licensing.Invalid(licensing.FieldError{
				Field:   field,
				Message: fmt.Sprintf("must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value),
			})
		}
		return licensing.Errorf(licensing.CodeMalformedJSON, "the body is not valid JSON: %s", safeJSONError(err))
	}
	if dec.More() {
		return licensing.Errorf(licensing.CodeMalformedJSON, "the body holds more than one JSON value")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "int", "int32", "int64", "uint", "uint32", "uint64", "float64", "float32":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "of another type"
}

// safeJSONError keeps the decoder's position information but never echoes
// large parts of the input.
func safeJSONError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// renderJSON writes v as JSON without HTML escaping.
func renderJSON(w http.ResponseWriter, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
