package jsonbody

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/licensing-service/licensing/internal/licensing"
)

// fuzzBody has a field of every kind the request bodies use.
type fuzzBody struct {
	Name     string          `json:"name"`
	Count    int             `json:"count"`
	Limit    *int64          `json:"limit"`
	Usage    float64         `json:"usage"`
	Flag     bool            `json:"flag"`
	At       *time.Time      `json:"at"`
	Metadata json.RawMessage `json:"metadata"`
	Result   any             `json:"result"`
	Tags     []string        `json:"tags"`
	Labels   map[string]any  `json:"labels"`
}

func TestDecodeHostile(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	okDeep := `{"result":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`
	cases := []struct {
		name, body string
		code       licensing.Code // "" means accepted
	}{
		{"plain", `{"name":"a","count":1,"metadata":{"k":[1,2,{"x":null}]}}`, ""},
		{"empty object", `{}`, ""},
		{"nested at the limit", okDeep, ""},
		{"same key in sibling objects", `{"labels":{"a":1},"result":{"a":2}}`, ""},
		{"key equal to a value", `{"name":"name"}`, ""},
		{"zero written oddly", `{"usage":-0.000e-999}`, ""},
		{"duplicate key", `{"name":"a","name":"b"}`, licensing.CodeMalformedJSON},
		{"duplicate key nested", `{"metadata":{"k":1,"k":2}}`, licensing.CodeMalformedJSON},
		{"duplicate key in array of objects", `{"result":[{"a":1},{"b":1,"b":2}]}`, licensing.CodeMalformedJSON},
		{"too deep", deep, licensing.CodeMalformedJSON},
		{"too deep in metadata", `{"metadata":` + deep + `}`, licensing.CodeMalformedJSON},
		{"NUL escaped", `{"name":"a\u0000b"}`, licensing.CodeValidation},
		{"NUL deep", `{"labels":{"x":[1,{"y":"\u0000"}]}}`, licensing.CodeValidation},
		{"NUL in a key", `{"metadata":{"a\u0000":1}}`, licensing.CodeMalformedJSON},
		{"raw NUL", "{\"name\":\"a\x00b\"}", licensing.CodeMalformedJSON}, // a control character: a syntax error
		{"invalid UTF-8", "{\"name\":\"\xff\xfe\"}", licensing.CodeMalformedJSON},
		{"invalid UTF-8 outside strings", "{\"name\":\"a\"}\xff", licensing.CodeMalformedJSON},
		{"NaN", `{"usage":NaN}`, licensing.CodeMalformedJSON},
		{"Infinity", `{"usage":Infinity}`, licensing.CodeMalformedJSON},
		{"huge number", `{"usage":1e400}`, licensing.CodeMalformedJSON},
		{"huge number in metadata", `{"metadata":{"x":-1e99999}}`, licensing.CodeMalformedJSON},
		{"underflowing number", `{"metadata":{"x":1e-99999}}`, licensing.CodeMalformedJSON},
		{"long number", `{"metadata":{"x":` + strings.Repeat("1", MaxNumberLen+1) + `}}`, licensing.CodeMalformedJSON},
		{"huge integer", `{"count":99999999999999999999}`, licensing.CodeValidation},
		{"negative into unsigned-like", `{"count":1.5}`, licensing.CodeValidation},
		{"wrong type", `{"name":12}`, licensing.CodeValidation},
		{"wrong type nested", `{"tags":[1]}`, licensing.CodeValidation},
		{"bad date", `{"at":"yesterday"}`, licensing.CodeMalformedJSON},
		{"date out of range", `{"at":"10000-01-01T00:00:00Z"}`, licensing.CodeMalformedJSON},
		{"array body", `[]`, licensing.CodeValidation},
		{"two values", `{} {}`, licensing.CodeMalformedJSON},
		{"truncated", `{"name":`, licensing.CodeMalformedJSON},
		{"trailing comma", `{"name":"a",}`, licensing.CodeMalformedJSON},
		{"single quotes", `{'name':'a'}`, licensing.CodeMalformedJSON},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var dst fuzzBody
			err := Decode([]byte(tc.body), &dst)
			if got := licensing.ErrorCode(err); got != tc.code {
				t.Fatalf("Decode(%.80q): code %q, want %q (err %v)", tc.body, got, tc.code, err)
			}
		})
	}
}

// FuzzDecode feeds arbitrary bodies to Decode: it must never panic, every
// refusal must be a MALFORMED_JSON or VALIDATION_FAILED licensing.Error, and
// what it accepts must hold no NUL and no invalid UTF-8. The seeds run in every
// `go test`; `make fuzz` explores further.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"name":"a","count":1,"limit":5,"usage":0.5,"flag":true,"at":"2026-01-02T03:04:05Z","metadata":{"k":[1,"x",null]},"result":{"a":[{}]},"tags":["t"],"labels":{"l":1}}`,
		`{}`, ``, `[]`, `null`, `"s"`, `1`,
		`{"name":"a","name":"b"}`,
		`{"name":"a\u0000"}`, "{\"name\":\"\xff\"}",
		`{"usage":1e400}`, `{"metadata":{"x":1e-400}}`, `{"count":-1}`, `{"count":1e3}`,
		`{"at":"0000-00-00T00:00:00Z"}`, `{"name":"' OR 1=1; DROP TABLE licenses; --"}`,
		strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40),
		`{"Name":"a","NAME":"b"}`, `{"labels":{"__proto__":{}}}`, `{"name":"\ud800"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var dst fuzzBody
		err := Decode(body, &dst)
		if err != nil {
			var le *licensing.Error
			if !errors.As(err, &le) {
				t.Fatalf("not a licensing.Error: %T %v", err, err)
			}
			if le.Code != licensing.CodeMalformedJSON && le.Code != licensing.CodeValidation {
				t.Fatalf("code %s for %q", le.Code, body)
			}
			return
		}
		for _, s := range append([]string{dst.Name}, dst.Tags...) {
			if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
				t.Fatalf("accepted a bad string %q", s)
			}
		}
		if len(dst.Metadata) > 0 && !json.Valid(dst.Metadata) {
			t.Fatalf("accepted invalid metadata %q", dst.Metadata)
		}
	})
}

func TestNULNamesTheField(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"name":"a\u0000"}`:                      "name",
		`{"labels":{"x":[1,{"y":"\u0000"}]}}`:     "labels.x[1].y",
		`{"tags":["a","b","\u0000"],"name":"ok"}`: "tags[2]",
	} {
		err := Decode([]byte(body), &fuzzBody{})
		var le *licensing.Error
		if !errors.As(err, &le) || le.Code != licensing.CodeValidation || len(le.Fields) != 1 || le.Fields[0].Field != want {
			t.Errorf("%s: %v %+v, want field %s", body, err, le, want)
		}
	}
}

// TestDecodeReportsEveryTypeError: every mistyped field is named at once,
// with a message that says what to send instead; the other fields decode.
func TestDecodeReportsEveryTypeError(t *testing.T) {
	t.Parallel()
	var b fuzzBody
	err := Decode([]byte(`{"name":7,"count":1.5,"limit":99999999999999999999,"usage":"x","flag":"yes","tags":["a",2],"labels":{"ok":1}}`), &b)
	le := licensing.AsError(err)
	if le == nil || le.Code != licensing.CodeValidation {
		t.Fatalf("err %v, want VALIDATION_FAILED", err)
	}
	got := map[string]string{}
	for _, f := range le.Fields {
		got[f.Field] = f.Message
	}
	want := map[string]string{
		"name":  "must be a string, not a number",
		"count": "must be a whole number",
		"limit": "out of range",
		"usage": "must be a number, not a string",
		"flag":  "must be a boolean, not a string",
		"tags":  "must be a string, not a number",
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	for f, m := range want {
		if got[f] != m {
			t.Errorf("%s: %q, want %q (all: %v)", f, got[f], m, got)
		}
	}
	if b.Labels["ok"] != float64(1) {
		t.Errorf("the well-typed field was not decoded: %+v", b)
	}
}
