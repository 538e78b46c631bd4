package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"
)

// builtin holds the templates built into the binary.
//
//go:embed templates
var builtin embed.FS

// Templates: every mail is rendered from layout.txt with KIND.txt, which
// defines "subject" and "body" (the layout calls "body"), and layout.html
// with KIND.html, which defines "body"; text/template and html/template
// respectively, with Data. A file of the same name in MAIL_TEMPLATES_DIR
// replaces the built-in one.
const (
	layoutText = "layout.txt"
	layoutHTML = "layout.html"
)

// templates are the parsed templates of every kind.
type templates map[Kind]kindTemplates

// kindTemplates are the templates of one kind: the layout with the kind's
// own definitions.
type kindTemplates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// rendered is a mail as its templates wrote it.
type rendered struct{ subject, text, html string }

// templateNames lists the files a templates directory may hold.
func templateNames() []string {
	names := []string{layoutText, layoutHTML}
	for _, k := range Kinds {
		names = append(names, string(k)+".txt", string(k)+".html")
	}
	return names
}

// loadTemplates parses the templates, each from dir when it holds a file of
// that name, else the built-in one, and renders every kind with sample
// data built by sample. Returns an error naming the file and the fault if
// dir cannot be read or holds a .txt or .html file that is no template, a
// template does not parse or fails on the sample, a subject is empty, or
// a text part does not show its link as it is.
func loadTemplates(dir string, sample func(Kind) Data) (templates, error) {
	read, err := templateReader(dir)
	if err != nil {
		return nil, err
	}
	layoutTxt, err := read(layoutText)
	if err != nil {
		return nil, err
	}
	layoutHTMLSrc, err := read(layoutHTML)
	if err != nil {
		return nil, err
	}
	t := templates{}
	for _, k := range Kinds {
		txt, err := read(string(k) + ".txt")
		if err != nil {
			return nil, err
		}
		html, err := read(string(k) + ".html")
		if err != nil {
			return nil, err
		}
		var kt kindTemplates
		if kt.text, err = texttemplate.New(layoutText).Parse(layoutTxt.src); err != nil {
			return nil, fmt.Errorf("%s: %w", layoutTxt.origin, err)
		}
		if _, err = kt.text.New(txt.name).Parse(txt.src); err != nil {
			return nil, fmt.Errorf("%s: %w", txt.origin, err)
		}
		if kt.html, err = htmltemplate.New(layoutHTML).Parse(layoutHTMLSrc.src); err != nil {
			return nil, fmt.Errorf("%s: %w", layoutHTMLSrc.origin, err)
		}
		if _, err = kt.html.New(html.name).Parse(html.src); err != nil {
			return nil, fmt.Errorf("%s: %w", html.origin, err)
		}
		t[k] = kt
		d := sample(k)
		r, err := t.render(k, d)
		switch {
		case err != nil: // the error names the template that failed, by its name
			return nil, fmt.Errorf("mail templates of %s (%s): %w", k,
				strings.Join([]string{layoutTxt.origin, txt.origin, layoutHTMLSrc.origin, html.origin}, ", "), err)
		case r.subject == "":
			return nil, fmt.Errorf(`%s: defines no "subject", or an empty one`, txt.origin)
		case d.Link != "" && !strings.Contains(r.text, d.Link):
			return nil, fmt.Errorf("%s: does not show {{.Link}} as it is", txt.origin)
		}
	}
	return t, nil
}

// source is the text of a template and where it came from.
type source struct{ name, src, origin string }

// templateReader returns a function that reads a template: from dir if it
// holds that file, else the built-in one. Returns an error if dir is set
// but is no readable directory, or holds a .txt or .html file whose name
// is not a template's (a typo would go unnoticed).
func templateReader(dir string) (func(name string) (source, error), error) {
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("MAIL_TEMPLATES_DIR: %w", err)
		}
		known := templateNames()
		for _, e := range entries {
			ext := filepath.Ext(e.Name())
			if (ext == ".txt" || ext == ".html") && !slices.Contains(known, e.Name()) {
				return nil, fmt.Errorf("MAIL_TEMPLATES_DIR: %s is not a mail template; the names are %s",
					filepath.Join(dir, e.Name()), strings.Join(known, ", "))
			}
		}
	}
	return func(name string) (source, error) {
		if dir != "" {
			path := filepath.Join(dir, name)
			b, err := os.ReadFile(path)
			if err == nil {
				return source{name, string(b), "mail template " + path}, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return source{}, fmt.Errorf("read mail template: %w", err)
			}
		}
		b, err := builtin.ReadFile("templates/" + name)
		if err != nil {
			return source{}, fmt.Errorf("built-in mail template %s: %w", name, err)
		}
		return source{name, string(b), "built-in mail template " + name}, nil
	}, nil
}

// render writes the mail of kind k with d. The subject is one line, its
// spaces collapsed.
func (t templates) render(k Kind, d Data) (rendered, error) {
	kt, ok := t[k]
	if !ok {
		return rendered{}, fmt.Errorf("no templates for mail %q", k)
	}
	var subject, text, html bytes.Buffer
	if err := kt.text.ExecuteTemplate(&subject, "subject", d); err != nil {
		return rendered{}, err
	}
	if err := kt.text.ExecuteTemplate(&text, layoutText, d); err != nil {
		return rendered{}, err
	}
	if err := kt.html.ExecuteTemplate(&html, layoutHTML, d); err != nil {
		return rendered{}, err
	}
	return rendered{subject: strings.Join(strings.Fields(subject.String()), " "), text: text.String(), html: html.String()}, nil
}
