package browser

import (
	"context"
	"fmt"
)

// Document is a tab showing an ordinary web page, without the harness's
// LiveKit page: for pages the code under test serves (the status page).
// Dialogs the page opens (alert, confirm) are dismissed and listed in
// Seen.Dialogs.
type Document struct {
	b  *Browser
	id int
}

// Seen is what a Document shows at one moment.
type Seen struct {
	URL     string `json:"url"`
	Title   string `json:"title"`
	Text    string `json:"text"`    // the body's rendered text (innerText)
	Scripts int    `json:"scripts"` // script elements in the DOM
	// Refresh is the content of a <meta http-equiv="refresh">, if any.
	Refresh string   `json:"refresh"`
	Dialogs []string `json:"dialogs"` // every dialog opened so far
}

// Visit opens url in a new tab.
func (b *Browser) Visit(ctx context.Context, url string) (*Document, error) {
	var opened struct {
		Page int `json:"page"`
	}
	if err := b.call(ctx, map[string]any{"op": "visit", "url": url}, &opened); err != nil {
		return nil, fmt.Errorf("visit %s: %w", url, err)
	}
	return &Document{b: b, id: opened.Page}, nil
}

// Goto loads url in the tab and returns where it ended (after redirects).
func (d *Document) Goto(ctx context.Context, url string) (string, error) {
	var r struct {
		URL string `json:"url"`
	}
	err := d.b.call(ctx, map[string]any{"op": "goto", "page": d.id, "url": url}, &r)
	return r.URL, err
}

// Fill types value into the element selector (a CSS selector) names.
func (d *Document) Fill(ctx context.Context, selector, value string) error {
	return d.b.call(ctx, map[string]any{"op": "fill", "page": d.id, "selector": selector, "value": value}, nil)
}

// Submit clicks selector and waits for the navigation it starts; it
// returns the URL the tab ended at.
func (d *Document) Submit(ctx context.Context, selector string) (string, error) {
	var r struct {
		URL string `json:"url"`
	}
	err := d.b.call(ctx, map[string]any{"op": "submit", "page": d.id, "selector": selector}, &r)
	return r.URL, err
}

// Inspect reads what the tab shows now.
func (d *Document) Inspect(ctx context.Context) (Seen, error) {
	var s Seen
	err := d.b.call(ctx, map[string]any{"op": "inspect", "page": d.id}, &s)
	return s, err
}

// Screenshot writes a PNG of the whole page to path.
func (d *Document) Screenshot(ctx context.Context, path string) error {
	return d.b.call(ctx, map[string]any{"op": "screenshot", "page": d.id, "path": path}, nil)
}

// Close closes the tab.
func (d *Document) Close(ctx context.Context) error {
	return d.b.call(ctx, map[string]any{"op": "close", "page": d.id}, nil)
}
