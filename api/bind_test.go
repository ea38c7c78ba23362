package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/licensing-service/licensing/internal/licensing"
)

func TestBindJSONLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, contentType string
		body              string
		want              int
	}{
		{"json", "application/json", `{"name":"a"}`, 0},
		{"json with charset", "application/json; charset=utf-8", `{"name":"a"}`, 0},
		{"problem json", "application/merge-patch+json", `{"name":"a"}`, 0},
		{"no content type", "", `{"name":"a"}`, 0},
		{"empty body", "application/json", ``, 0},
		{"text", "text/plain", `{"name":"a"}`, http.StatusUnsupportedMediaType},
		{"form", "application/x-www-form-urlencoded", `name=a`, http.StatusUnsupportedMediaType},
		{"garbled content type", "application/json; ===", `{}`, http.StatusUnsupportedMediaType},
		{"over the limit", "application/json", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := bindBody(tc.contentType, []byte(tc.body), &struct{ Name string }{})
			got := 0
			if err != nil {
				got = StatusOf(licensing.ErrorCode(err))
			}
			if got != tc.want {
				t.Fatalf("status %d, want %d (err %v)", got, tc.want, err)
			}
		})
	}
}

// bindBody runs bindJSON on a request with the given content type and body.
func bindBody(contentType string, body []byte, dst any) error {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(string(body)))
	if contentType != "" {
		c.Request.Header.Set("Content-Type", contentType)
	}
	return bindJSON(c, dst)
}
