// Package docs holds no code: its test checks the Markdown documentation of
// the repository (README.md and this folder) for links that lead nowhere.
package docs

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

// readmeMaxLines is the most lines README.md may have: it is the front door,
// and the reference lives in docs/ (STYLE.md rule 19).
const readmeMaxLines = 300

// TestLinksResolve checks every relative link of every Markdown file in the
// repository: the file it names exists, and a #fragment names a heading of
// that file (or of the same file, for a bare #fragment).
func TestLinksResolve(t *testing.T) {
	repo := os.DirFS("..")
	files, err := markdownFiles(repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d Markdown files (%v), want README.md and docs/", len(files), files)
	}
	for _, problem := range brokenLinks(repo, files) {
		t.Error(problem)
	}
}

// TestREADMEIsAFrontDoor checks that README.md stays short enough to read
// in a few screens.
func TestREADMEIsAFrontDoor(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n > readmeMaxLines {
		t.Errorf("README.md has %d lines, want at most %d: move the reference into docs/", n, readmeMaxLines)
	}
}

// TestBrokenLinksAreFound checks that the checker itself finds each kind of
// broken link, so that TestLinksResolve cannot pass by finding nothing.
func TestBrokenLinksAreFound(t *testing.T) {
	repo := fstest.MapFS{
		"README.md": {Data: []byte("# Top\n\n" +
			"[ok](docs/a.md#a-heading-with-code) [ok](#top) [ok](main.go) [ok](https://example.com/x.md#nothing)\n" +
			"[missing file](docs/gone.md) [missing anchor](docs/a.md#nowhere)\n" +
			"[missing local anchor](#bottom) [wrapped\ntext](docs/b.md)\n" +
			"`[in code](nowhere.md)`\n\n```\n[in a fence](nowhere.md)\n```\n")},
		"docs/a.md": {Data: []byte("# A heading with `code`!\n\n[up](../README.md#top) [dup](#twice-1)\n\n## Twice\n\n## Twice\n")},
		"main.go":   {Data: []byte("package main\n")},
	}
	got := brokenLinks(repo, []string{"README.md", "docs/a.md"})
	want := []string{
		"README.md: link docs/gone.md: no file docs/gone.md",
		"README.md: link docs/a.md#nowhere: docs/a.md has no heading #nowhere",
		"README.md: link #bottom: README.md has no heading #bottom",
		"README.md: link docs/b.md: no file docs/b.md",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("brokenLinks found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAnchor checks heading anchors against GitHub's rules.
func TestAnchor(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"Tokens and sessions", "tokens-and-sessions"},
		{"Where the contract was silent", "where-the-contract-was-silent"},
		{"`create-admin`", "create-admin"},
		{"Operations: probes and faults", "operations-probes-and-faults"},
		{"HS256 and EdDSA (the JWKS)", "hs256-and-eddsa-the-jwks"},
		{"The [lockout](#x) *rules*", "the-lockout-rules"},
		{"snake_case stays", "snake_case-stays"},
		{"Über  two spaces", "über--two-spaces"},
	} {
		if got := anchor(tc.heading); got != tc.want {
			t.Errorf("anchor(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
}

// markdownFiles lists the .md files of the repository, leaving out hidden
// folders and node_modules.
func markdownFiles(repo fs.FS) ([]string, error) {
	var files []string
	err := fs.WalkDir(repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
			return fs.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

var (
	// inlineLink matches the destination of [text](dest) and ![alt](dest),
	// with an optional "title".
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^\s()<>]*)>?(?:\s+"[^"]*")?\s*\)`)
	// refDefinition matches a reference definition: [label]: dest.
	refDefinition = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	// codeSpan matches inline code, which may wrap over lines.
	codeSpan = regexp.MustCompile("`[^`]*`")
	// atxHeading matches a heading line: # Title.
	atxHeading = regexp.MustCompile(`^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$`)
	// linkMarkup matches a link in a heading, whose text alone counts.
	linkMarkup = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	// scheme matches a destination that is an absolute URL (https:, mailto:).
	scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// brokenLinks returns one line for each relative link in files that names
// a file missing from repo, or a #fragment that is no heading of its file.
func brokenLinks(repo fs.FS, files []string) []string {
	var problems []string
	anchors := map[string]map[string]bool{} // by file, read once
	headingsOf := func(file string) (map[string]bool, error) {
		if a, ok := anchors[file]; ok {
			return a, nil
		}
		b, err := fs.ReadFile(repo, file)
		if err != nil {
			return nil, err
		}
		anchors[file] = headingAnchors(string(b))
		return anchors[file], nil
	}
	for _, file := range files {
		b, err := fs.ReadFile(repo, file)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", file, err))
			continue
		}
		for _, dest := range linkDestinations(string(b)) {
			if dest == "" || scheme.MatchString(dest) {
				continue
			}
			target, fragment, _ := strings.Cut(dest, "#")
			target, err := url.PathUnescape(target)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: link %s: %v", file, dest, err))
				continue
			}
			switch {
			case target == "":
				target = file
			case strings.HasPrefix(target, "/"):
				target = path.Clean(strings.TrimPrefix(target, "/"))
			default:
				target = path.Join(path.Dir(file), target)
			}
			if _, err := fs.Stat(repo, target); err != nil {
				problems = append(problems, fmt.Sprintf("%s: link %s: no file %s", file, dest, target))
				continue
			}
			if fragment == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			headings, err := headingsOf(target)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: link %s: %v", file, dest, err))
				continue
			}
			if !headings[fragment] {
				problems = append(problems, fmt.Sprintf("%s: link %s: %s has no heading #%s", file, dest, target, fragment))
			}
		}
	}
	return problems
}

// linkDestinations returns the destinations of the links in a Markdown
// text, leaving out fenced code blocks and inline code.
func linkDestinations(md string) []string {
	text := codeSpan.ReplaceAllString(strings.Join(outsideFences(md), "\n"), "")
	var dests []string
	for _, m := range inlineLink.FindAllStringSubmatch(text, -1) {
		dests = append(dests, m[1])
	}
	for _, m := range refDefinition.FindAllStringSubmatch(text, -1) {
		dests = append(dests, m[1])
	}
	return dests
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown text, a repeated one suffixed -1, -2, ….
func headingAnchors(md string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range outsideFences(md) {
		m := atxHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a := anchor(m[1])
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

// anchor is GitHub's anchor of a heading: its text without markup,
// lower-cased, each space a hyphen, and every character other than a
// letter, a digit, '-' and '_' dropped.
func anchor(heading string) string {
	text := linkMarkup.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-', r == '_', unicode.IsLetter(r), unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// outsideFences returns the lines of a Markdown text that are not inside a
// fenced code block (``` or ~~~).
func outsideFences(md string) []string {
	var lines []string
	fence := ""
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case fence != "":
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
		case strings.HasPrefix(trimmed, "```"):
			fence = "```"
		case strings.HasPrefix(trimmed, "~~~"):
			fence = "~~~"
		default:
			lines = append(lines, line)
		}
	}
	return lines
}
