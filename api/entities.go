package api

import (
	"net/http"
	"slices"
	"sync"

	"github.com/rosterhq/roster"
)

type entityView struct {
	Name                       string   `json:"name"`
	ModuleIDs                  []string `json:"module_ids"`
	Source                     *string  `json:"source"`
	Recipient                  *string  `json:"recipient"`
	ID                         string   `json:"id"`
	AccountID                  string   `json:"account_id"`
	Description                *string  `json:"description"`
	Standard                   bool     `json:"standard"`
	Account                    *bool    `json:"account"`
	Pending                    bool     `json:"pending"`
	Connected                  *string  `json:"connected"`
	ConnectedAccountID         *string  `json:"connected_account_id"`
	Deprecated                 bool     `json:"deprecated"`
	See                        *string  `json:"see"`
	FieldSuffix                *string  `json:"field_suffix"`
	InvitationID               *string  `json:"invitation_id"`
	InvitationExpiresAt        *stamp   `json:"invitation_expires_at"`
	Expired                    bool     `json:"expired"`
	FlowIDs                    []string `json:"flow_ids"`
	LogoURL                    *string  `json:"logo_url"`
	TimeZone                   *string  `json:"time_zone"`
	TrustedFormCertifiedVendor bool     `json:"trustedform_certified_vendor"`
	Website                    *string  `json:"website"`
	CreatedAt                  stamp    `json:"created_at"`
	UpdatedAt                  stamp    `json:"updated_at"`
}

var falseValue = false

func (s *surface) entity(e roster.Entity) any { return s.entityView(e) }

func (s *surface) entityView(e roster.Entity) entityView {
	return entityView{
		Name: e.Name, ModuleIDs: e.ModuleIDs, Source: e.Source, Recipient: e.Recipient,
		ID: s.id(roster.KindEntity, e.ID), AccountID: s.id(roster.KindAccount, e.AccountID),
		Description: e.Description, Account: &falseValue, Pending: e.Pending(),
		Deprecated: e.Deprecated, See: s.optID(roster.KindEntity, e.See), FieldSuffix: e.FieldSuffix,
		InvitationID: e.InvitationID, FlowIDs: e.FlowIDs, LogoURL: e.LogoURL, TimeZone: e.TimeZone,
		TrustedFormCertifiedVendor: e.TrustedFormCertifiedVendor, Website: e.Website,
		CreatedAt: stamp(e.CreatedAt), UpdatedAt: stamp(e.UpdatedAt),
	}
}

func (s *Server) createEntity(c *call) error {
	w := newWrite(c, http.StatusCreated, c.sf.entity)
	return w.answer(s.svc.CreateEntity(c.ctx(), w.req, c.body))
}

func (s *Server) getEntity(c *call) error {
	e, err := s.svc.Entity(c.ctx(), c.p, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, c.sf.entity(e))
}

func (s *Server) putEntity(c *call) error   { return s.updateEntity(c, roster.EntityReplace) }
func (s *Server) patchEntity(c *call) error { return s.updateEntity(c, roster.EntityPatch) }

func (s *Server) updateEntity(c *call, mode roster.EntityMode) error {
	w := newWrite(c, http.StatusOK, c.sf.entity)
	return w.answer(s.svc.UpdateEntity(c.ctx(), w.req, c.r.PathValue("id"), c.body, mode))
}

func (s *Server) deleteEntity(c *call) error {
	w := newWrite(c, http.StatusOK, c.sf.entity)
	return w.answer(s.svc.DeleteEntity(c.ctx(), w.req, c.r.PathValue("id")))
}

var entityFilters = []string{"source", "recipient", "deprecated", "account_id"}

// MaxResponse is the largest response body roster sends (SPEC §10).
const MaxResponse = roster.MaxResponse

// listRoom is what a native entity page may spend on its items: the rest is the envelope,
// whose two cursors carry at most a 200-character name each (a few KiB).
const listRoom = MaxResponse - 64<<10

func (s *Server) listEntities(c *call) error {
	req := c.pageRequest(roster.EntityListing, entityFilters...)
	// The bytes of listView.appendJSON: the items are written after its opening.
	page, err := s.entityPage(c, roster.EntityListing, req, listRoom, `{"data":`)
	if err != nil {
		return err
	}
	defer putPageBuffer(page.items)
	pv := paginationView{Count: page.count, HasNext: page.HasNext, HasPrev: page.HasPrev,
		NextCursor: optString(page.Next), PrevCursor: optString(page.Prev)}
	b, _ := pv.appendJSON(append(page.items, `,"pagination":`...))
	c.send(http.StatusOK, append(b, '}'))
	return nil
}

// listChunk is the most entities entityPage reads from the store at once.
const listChunk = 100

// renderedPage is a page of entities already rendered: its navigation, how many items it
// holds and their JSON array.
type renderedPage struct {
	roster.Page[roster.Entity] // Items left nil: the entities are in items
	count                      int
	items                      []byte
}

// entityPage reads a page of entities and renders its items as a JSON array of at most room
// bytes (SPEC §10: no response over 8 MiB). At the field limits of SPEC §8 an entity's JSON
// can reach about 90 KB (jsonenc_test.go works out the worst case), so 100 of them would not
// fit, nor 1,000 on LeadConduit.
//
// The page is read in chunks of at most listChunk entities, each from the cursor of the one
// before, and each rendered before the next is read, so that one request holds at most one
// chunk of entities besides the bytes it answers (not 1,000 entities of up to 90 KB: 89 MB).
// A chunk whose entities do not all fit is read again with the limit of those that do, so the
// page ends right after its last item and its next cursor resumes there: it is then shorter
// than the limit asked, and a client that follows the cursors still sees every entity once.
// Each such round lowers the limit, so this ends (an array's first entity always fits). A
// page takes at most as many chunk reads as a one-read page of its limit would take windows
// (store reads stop a page early after a bounded scan, SPEC §6), plus those rounds.
//
// Chunks continue forward, by the next cursor: only LeadConduit's list, always forward, has a
// limit over listChunk; a native page (limit at most 100) is one chunk, read as one page was.
//
// The items are written after prefix, in a buffer from pageBuffers that the caller gives back
// (putPageBuffer) once the response is sent.
func (s *Server) entityPage(c *call, l roster.Listing, req roster.PageRequest, room int, prefix string) (renderedPage, error) {
	var out renderedPage
	want := req.Limit
	b := append(getPageBuffer(), prefix...)
	start := len(b)
	b = append(b, '[')
	// The first read also answers a request whose limit is invalid (a 422).
	for reads := 0; reads == 0 || out.count < want && reads < (want+listChunk-1)/listChunk; reads++ {
		part := req
		part.Limit = min(want-out.count, listChunk)
		mark := len(b)
		var page roster.Page[roster.Entity]
		cut := false
		for {
			page = roster.Page[roster.Entity]{} // a chunk read again: let the first go first
			var err error
			if page, err = s.svc.ListEntities(c.ctx(), c.p, l, part); err != nil {
				return out, err
			}
			var n int
			b, n = appendEntityItems(b[:mark], start, page.Items, c.sf, room)
			if n == len(page.Items) {
				break
			}
			if n == 0 {
				// Nothing of this chunk fits: the page ends with the chunk before.
				return out.done(b[:mark]), nil
			}
			part.Limit, cut = n, true
		}
		if reads == 0 {
			out.HasPrev, out.Prev = page.HasPrev, page.Prev
		}
		out.HasNext, out.Next = page.HasNext, page.Next
		out.count += len(page.Items)
		if !page.HasNext || cut {
			// The end of the list, or a chunk cut to fit: the page is full.
			break
		}
		if reads == 0 && out.count > 0 && out.count < want {
			// Room for the rest of the page, as big as its first chunk says, at once.
			b = slices.Grow(b, max(0, min(room+1, len(b)/out.count*want+1024)-len(b)))
		}
		req.Cursor, req.Sort = page.Next, ""
	}
	return out.done(b), nil
}

// pageBuffers keeps the buffers entity pages are rendered into: a page of 20 entities takes
// about 20 KB, allocated and cleared afresh for every request otherwise.
var pageBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledPage is the largest buffer kept for reuse; a rare 8 MiB page is left to the GC.
const maxPooledPage = 256 << 10

func getPageBuffer() []byte { return (*pageBuffers.Get().(*[]byte))[:0] }

func putPageBuffer(b []byte) {
	if cap(b) <= maxPooledPage {
		pageBuffers.Put(&b)
	}
}

// done closes the page's array.
func (p renderedPage) done(b []byte) renderedPage {
	p.items = append(b, ']')
	return p
}
