// Package jsonbody decodes untrusted JSON request bodies. It refuses what
// encoding/json would accept silently but what no client means and what the
// database would refuse later: invalid UTF-8, duplicate keys, deep nesting,
// NUL characters, numbers outside a float64. Every refusal is a
// licensing.Error with a 400 code, never a panic.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/licensing-service/licensing/internal/licensing"
)

// MaxDepth is the deepest nesting of objects and arrays accepted in a body
// (400 beyond it): deep enough for any metadata, shallow enough that no
// decoder or jsonb function downstream recurses far.
const MaxDepth = 32

// MaxNumberLen bounds the text of one JSON number: a float64 needs at most
// 24 characters, so this leaves room for integers written out in full.
const MaxNumberLen = 64

// Decode checks body (see Check) and decodes one JSON value into dst.
// Unknown fields are ignored. It returns a licensing.Error: MALFORMED_JSON
// for a body that is not one well-formed JSON value or that Check refuses,
// VALIDATION_FAILED naming the field for a value of the wrong type.
func Decode(body []byte, dst any) error {
	if err := Check(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var typeErr *json.UnmarshalTypeError
	if err := dec.Decode(dst); err != nil && !errors.As(err, &typeErr) {
		return licensing.Errorf(licensing.CodeMalformedJSON, "the body is not valid JSON: %s", safeJSONError(err))
	}
	if dec.More() {
		return licensing.Errorf(licensing.CodeMalformedJSON, "the body holds more than one JSON value")
	}
	if typeErr != nil {
		// encoding/json fills every other field and reports only the
		// first mismatch; a client fixing its body wants them all.
		return licensing.Invalid(typeErrors(body, dst, typeErr)...)
	}
	return nil
}

// typeErrors lists a field error for every top-level field of the struct
// dst points to whose value in body has the wrong type, in field order;
// first is the decoder's own (earliest) error, reported alone when dst is
// not a struct or the body not an object.
func typeErrors(body []byte, dst any, first *json.UnmarshalTypeError) []licensing.FieldError {
	var fields map[string]json.RawMessage
	rv := reflect.ValueOf(dst)
	if json.Unmarshal(body, &fields) != nil || rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return []licensing.FieldError{fieldError(first, "")}
	}
	var out []licensing.FieldError
	st := rv.Elem().Type()
	for i := range st.NumField() {
		f := st.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || f.Anonymous || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		raw, ok := fields[name]
		if !ok {
			// encoding/json matches keys case-insensitively too.
			for k, v := range fields {
				if strings.EqualFold(k, name) {
					raw, ok = v, true
					break
				}
			}
		}
		if !ok {
			continue
		}
		var te *json.UnmarshalTypeError
		if err := json.Unmarshal(raw, reflect.New(f.Type).Interface()); errors.As(err, &te) {
			out = append(out, fieldError(te, name))
		}
	}
	if len(out) == 0 {
		return []licensing.FieldError{fieldError(first, "")}
	}
	return out
}

// fieldError names the field of a type error (under parent, when the error
// comes from decoding that field alone) and says what was expected.
func fieldError(te *json.UnmarshalTypeError, parent string) licensing.FieldError {
	field := te.Field
	switch {
	case parent != "" && field != "":
		field = parent + "." + field
	case parent != "":
		field = parent
	case field == "":
		field = "(body)"
	}
	return licensing.FieldError{Field: field, Message: typeMessage(te)}
}

// typeMessage says what a mismatched value should have been: a whole number
// (for a fraction given to an integer), in range (for an integer too large
// for its field), or a value of another JSON kind.
func typeMessage(te *json.UnmarshalTypeError) string {
	kind := te.Type.Kind()
	integer := kind >= reflect.Int && kind <= reflect.Uint64
	if num, ok := strings.CutPrefix(te.Value, "number "); ok && integer {
		if f, err := strconv.ParseFloat(num, 64); err == nil && f == math.Trunc(f) {
			return "out of range"
		}
		return "must be a whole number"
	}
	want := jsonKind(kind.String())
	if integer {
		want = "a whole number"
	}
	got := te.Value
	switch got {
	case "number", "string", "bool":
		got = "a " + strings.Replace(got, "bool", "boolean", 1)
	case "array", "object":
		got = "an " + got
	}
	return fmt.Sprintf("must be %s, not %s", want, got)
}

// Check refuses what encoding/json would accept silently or what the
// database would refuse later as an internal error, with MALFORMED_JSON
// (VALIDATION_FAILED naming the field, such as "metadata.tags[2]", for a
// NUL character in a string value):
//   - bytes that are not UTF-8 (encoding/json replaces them with U+FFFD);
//   - a key repeated in one object (encoding/json keeps the last, so two
//     readers of the same body could disagree about its meaning);
//   - nesting deeper than MaxDepth;
//   - a NUL character in a string or key (PostgreSQL text and jsonb cannot
//     hold it);
//   - a number that is not a finite IEEE 754 double, underflows to zero, or
//     is longer than MaxNumberLen (RFC 7493, I-JSON).
//
// Syntax errors are left to the decoder, which reports their position.
func Check(body []byte) error {
	if !utf8.Valid(body) {
		return licensing.Errorf(licensing.CodeMalformedJSON, "the body is not valid UTF-8")
	}
	// Each open object or array is a frame; in an object, wantKey says
	// whether the next token is a key or a value, and key is the last key;
	// in an array, index counts the values so far.
	type frame struct {
		object  bool
		wantKey bool
		key     string
		index   int
		keys    map[string]struct{}
	}
	path := func(stack []frame) string {
		var b strings.Builder
		for i, f := range stack {
			switch {
			case f.object && i > 0:
				b.WriteString("." + f.key)
			case f.object:
				b.WriteString(f.key)
			default:
				fmt.Fprintf(&b, "[%d]", f.index-1)
			}
		}
		return truncate(b.String(), 200)
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error the decoder will report
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		isKey := top != nil && top.object && top.wantKey
		switch {
		case top != nil && top.object:
			top.wantKey = !top.wantKey
		case top != nil:
			top.index++
		}
		switch v := tok.(type) {
		case json.Delim:
			if len(stack) >= MaxDepth {
				return licensing.Errorf(licensing.CodeMalformedJSON, "the body is nested deeper than %d levels", MaxDepth)
			}
			stack = append(stack, frame{object: v == '{', wantKey: v == '{'})
		case string:
			if strings.IndexByte(v, 0) >= 0 {
				if isKey || len(stack) == 0 {
					return licensing.Errorf(licensing.CodeMalformedJSON, "a key in the body holds a NUL character")
				}
				return licensing.Invalid(licensing.FieldError{Field: path(stack), Message: "must not contain a NUL character"})
			}
			if isKey {
				top.key = v
				if top.keys == nil {
					top.keys = make(map[string]struct{})
				}
				if _, dup := top.keys[v]; dup {
					return licensing.Errorf(licensing.CodeMalformedJSON, "the key %q appears twice in one object", truncate(v, 64))
				}
				top.keys[v] = struct{}{}
			}
		case json.Number:
			if err := checkNumber(string(v)); err != nil {
				return err
			}
		}
	}
}

// checkNumber accepts a JSON number that a float64 holds without overflow
// or underflow, written in at most MaxNumberLen characters.
func checkNumber(s string) error {
	if len(s) > MaxNumberLen {
		return licensing.Errorf(licensing.CodeMalformedJSON, "a number in the body is longer than %d characters", MaxNumberLen)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return licensing.Errorf(licensing.CodeMalformedJSON, "a number in the body is out of range")
	}
	if f == 0 {
		mantissa, _, _ := strings.Cut(strings.ToLower(s), "e")
		if strings.Trim(mantissa, "-0.") != "" {
			return licensing.Errorf(licensing.CodeMalformedJSON, "a number in the body is too small to represent")
		}
	}
	return nil
}

// truncate shortens s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
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
