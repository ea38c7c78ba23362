package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/licensing-service/licensing/internal/jsonbody"
	"github.com/licensing-service/licensing/internal/licensing"
)

// MaxBodyBytes is the largest request body accepted (413 beyond it).
const MaxBodyBytes = 1 << 20

// bindJSON decodes the request body into dst. Unknown fields are ignored;
// an empty body decodes as {}. It returns a licensing.Error for a wrong
// content type (415), a body over MaxBodyBytes (413), malformed or hostile
// JSON (400, see jsonbody.Decode) or a value of the wrong type (400 with the field).
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
	return jsonbody.Decode(body, dst)
}

// renderJSON writes v as JSON without HTML escaping.
func renderJSON(w http.ResponseWriter, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
