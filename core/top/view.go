package top

// view is one screen of nsqtop. A view is a value naming what it shows
// (a topic, a node, …); build renders it from data into a page — info
// lines and sections of rows — and does nothing else: no I/O, no state.
// The root model keeps each shown view's UI state (cursor, sort, scroll,
// filter) beside it.
type view interface {
	// crumb is the view's part of the breadcrumb ("topics", "orders").
	crumb() string
	// build renders the view.
	build(d *data) page
}

// focuser is a view whose cursor starts in a section other than the first.
type focuser interface {
	defaultFocus() int
}

// lookupdUser is a view that needs the lookupds' registrations (fetched
// only while such a view is shown).
type lookupdUser interface {
	usesLookupds()
}

// actTarget is what an action key acts on from a row.
type actTarget struct {
	Topic, Channel string
	Node           string // an nsqd HTTP address: tombstone applies
	Paused         bool   // the topic (or channel) is paused on some node
}

// topLevel are the views of keys 1–5.
func topLevel(i int) view {
	switch i {
	case 1:
		return channelsView{}
	case 2:
		return nodesView{}
	case 3:
		return clientsView{}
	case 4:
		return lookupView{}
	}
	return topicsView{}
}

// waiting is the page shown before the first poll.
func waiting(d *data) page {
	return page{Info: []string{d.s.Dim.Render("waiting for the first poll…")}}
}
