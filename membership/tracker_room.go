package membership

import (
	"slices"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/timeheap"
)

// smallRoom is the most members a room keeps in a plain slice. Most calls
// are a handful of devices: scanning a few pointers is as quick as hashing
// wide keys, and two maps per room would take more memory than the members
// themselves. A room that outgrows it is indexed by maps until it empties.
const smallRoom = 16

// roomState holds one room's members: in all while the room is small, in
// byID and bySource once it is indexed.
type roomState struct {
	// all lists each source's members in the order of its last update.
	all  []*tracked
	byID map[memberID]*tracked
	// bySource holds the first member each source carries; the others
	// follow through tracked.next, a list that costs no allocation.
	bySource map[Source]*tracked
}

type tracked struct {
	m      Member
	source Source
	next   *tracked                 // the next member its source carries, once the room is indexed
	entry  timeheap.Entry[*tracked] // its place in the expiry heap
}

func (rs *roomState) indexed() bool { return rs.byID != nil }

func (rs *roomState) empty() bool { return len(rs.all) == 0 && len(rs.byID) == 0 }

// find returns the member with id mid, or nil.
func (rs *roomState) find(mid memberID) *tracked {
	if rs.indexed() {
		return rs.byID[mid]
	}
	for _, tr := range rs.all {
		if tr.m.DeviceID == mid.device && idOf(tr.m) == mid { // the device tells most apart at once
			return tr
		}
	}
	return nil
}

// carried appends to buf the members src carries, in its last update's order.
func (rs *roomState) carried(src Source, buf []*tracked) []*tracked {
	if rs.indexed() {
		for tr := rs.bySource[src]; tr != nil; tr = tr.next {
			buf = append(buf, tr)
		}
		return buf
	}
	for _, tr := range rs.all {
		if tr.source == src {
			buf = append(buf, tr)
		}
	}
	return buf
}

// sources lists the sources that carry a member of the room.
func (rs *roomState) sources() []Source {
	var out []Source
	if rs.indexed() {
		for src := range rs.bySource {
			out = append(out, src)
		}
		return out
	}
	for _, tr := range rs.all {
		if !slices.Contains(out, tr.source) {
			out = append(out, tr.source)
		}
	}
	return out
}

// add records a new member of the room; setSource then places it.
func (rs *roomState) add(tr *tracked, mid memberID) {
	if rs.indexed() {
		rs.byID[mid] = tr
	}
}

// detach takes tr off the list of the source it had, as it moves to another.
func (rs *roomState) detach(tr *tracked) {
	if rs.indexed() {
		rs.unlink(tr)
	}
}

// delete forgets tr.
func (rs *roomState) delete(tr *tracked) {
	if !rs.indexed() {
		if i := slices.Index(rs.all, tr); i >= 0 {
			rs.all = slices.Delete(rs.all, i, i+1)
		}
		return
	}
	delete(rs.byID, idOf(tr.m))
	rs.unlink(tr)
}

// setSource records that src carries exactly cur, in that order; each of
// cur already has its source set to src.
func (rs *roomState) setSource(src Source, cur []*tracked) {
	if !rs.indexed() {
		keep := rs.all[:0]
		for _, tr := range rs.all {
			if tr.source != src {
				keep = append(keep, tr)
			}
		}
		clear(rs.all[len(keep):])
		rs.all = append(keep, cur...)
		if len(rs.all) > smallRoom {
			rs.index()
		}
		return
	}
	var head *tracked
	link := &head
	for _, tr := range cur {
		*link = tr
		link = &tr.next
	}
	*link = nil
	if head == nil {
		delete(rs.bySource, src)
	} else {
		rs.bySource[src] = head
	}
}

// index moves a room that outgrew smallRoom to maps.
func (rs *roomState) index() {
	rs.byID = make(map[memberID]*tracked, len(rs.all))
	rs.bySource = make(map[Source]*tracked)
	for i := len(rs.all) - 1; i >= 0; i-- { // prepending from the end keeps each source's order
		tr := rs.all[i]
		rs.byID[idOf(tr.m)] = tr
		tr.next = rs.bySource[tr.source]
		rs.bySource[tr.source] = tr
	}
	rs.all = nil
}

// unlink takes tr out of its source's list in an indexed room, dropping the
// source once empty.
func (rs *roomState) unlink(tr *tracked) {
	head := rs.bySource[tr.source]
	switch {
	case head == tr && tr.next == nil:
		delete(rs.bySource, tr.source)
	case head == tr:
		rs.bySource[tr.source] = tr.next
	default:
		for p := head; p != nil; p = p.next {
			if p.next == tr {
				p.next = tr.next
				break
			}
		}
	}
	tr.next = nil
}

// sourcesOf lists the sources whose members user sent.
func (rs *roomState) sourcesOf(user id.UserID) []Source {
	var out []Source
	visit := func(tr *tracked) {
		if tr.m.UserID == user && !slices.Contains(out, tr.source) {
			out = append(out, tr.source)
		}
	}
	if rs.indexed() {
		for _, tr := range rs.byID {
			visit(tr)
		}
		return out
	}
	for _, tr := range rs.all {
		visit(tr)
	}
	return out
}
