package api

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryErrorCode checks that the problem type URI of
// every code lands on a line of the README's Errors table that names the
// code and its status.
func TestREADMEDocumentsEveryErrorCode(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for code, status := range statusOf {
		anchor := problemType(code)[strings.Index(problemType(code), "#")+1:]
		line := regexp.MustCompile(`(?m)^.*<a id="` + regexp.QuoteMeta(anchor) + `"></a>.*$`).FindString(readme)
		if line == "" {
			t.Errorf("README.md has no anchor %q for %s", anchor, code)
			continue
		}
		if !strings.Contains(line, "`"+string(code)+"`") || !strings.Contains(line, fmt.Sprintf("| %d |", status)) {
			t.Errorf("README.md's line for %s does not say `%s` and | %d |: %s", code, code, status, line)
		}
	}
}
