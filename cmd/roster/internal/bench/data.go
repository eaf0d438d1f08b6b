package bench

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// dataset is the data a run seeds, generated deterministically from the sizes: every field of
// entity i can be recomputed from i, so only what the load needs is kept in memory (ids, owners
// and timestamps: about 40 bytes an entity).
type dataset struct {
	now      time.Time
	accounts []roster.Account
	// entity i
	ids     [][12]byte
	owner   []int32 // index into accounts
	created []int64 // Unix microseconds, strictly increasing with i
	updated []int64
	// byAccount lists the entities of each account, in creation order.
	byAccount     [][]int32
	relationships int
	// normal is how many entities the sizes asked for; the noisy tenant's heavy entities, if
	// any, come after them (addNoisy).
	normal int
	// deprecated marks about 0.1% of every account's entities (at least one per account),
	// evenly spaced through the account's creation order: the rare match of the filter
	// deprecated=true, the worst filter of a list (list-worst-filter).
	deprecated map[int32]bool
	// tied marks the accounts whose entities all share one updated_at (a migration touched
	// them all at once): a sort on updated_at then name ties on its first field everywhere in
	// such an account (list-worst-tie). One account in 50, the second of each 50.
	tied []bool
	// noisy is the account of the noisy tenant (addNoisy), -1 when there is none. It is kept
	// out of every other scenario.
	noisy int32
}

// tiedAccount says which accounts have one updated_at for all their entities.
func tiedAccount(j int) bool { return j%50 == 1 }

// hash64 is splitmix64: a cheap, well-mixed function of a counter.
func hash64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Salts keep the hashes of different fields of one row independent.
const (
	saltOwner = iota + 1
	saltJitter
	saltUpdated
	saltID
	saltName
	saltFields
	saltRelTime
	saltAccount
)

func h(salt, i uint64) uint64 { return hash64(salt<<56 ^ i) }

var (
	nameFirst = []string{"Acme", "Blue", "Summit", "Harbor", "Pioneer", "Granite", "Silver", "North", "Cedar", "Atlas",
		"Beacon", "Crescent", "Delta", "Evergreen", "Falcon", "Golden", "Horizon", "Iron", "Juniper", "Keystone",
		"Liberty", "Maple", "Nova", "Orchard", "Prairie", "Quantum", "Redwood", "Sterling", "Titan", "Union",
		"Vista", "Willow"}
	nameSecond = []string{"Lending", "Insurance", "Solar", "Health", "Media", "Leads", "Capital", "Mortgage",
		"Auto", "Home", "Legal", "Education", "Travel", "Energy", "Finance", "Roofing"}
	nameThird  = []string{"LLC", "Inc", "Group", "Partners", "Co", "Holdings", "Direct", "Network"}
	timeZones  = []string{"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London"}
	moduleSets = [][]string{{"leadconduit-default"}, {"leadconduit-trustedform"}, {"leadconduit-default", "leadconduit-suppressionlist"}, {}}
)

// newDataset lays out the ids, owners and timestamps of a run: entities created over the last
// year in id order, each owned by a pseudo-random account, updated up to 30 days after creation.
func newDataset(now time.Time, accounts, entities, relationships int) *dataset {
	now = now.Truncate(time.Second)
	d := &dataset{now: now, relationships: relationships, normal: entities, noisy: -1, deprecated: map[int32]bool{}}
	start := now.Add(-365 * 24 * time.Hour).UnixMicro()
	acctStart := now.Add(-400 * 24 * time.Hour)
	for j := range accounts {
		w := h(saltAccount, uint64(j))
		name := fmt.Sprintf("%s %s %s %04d", nameFirst[w%32], nameSecond[w>>8%16], nameThird[w>>16%8], j+1)
		created := acctStart.Add(time.Duration(j) * time.Minute).UTC()
		var id [12]byte
		binary.BigEndian.PutUint32(id[:4], uint32(created.Unix()))
		binary.BigEndian.PutUint64(id[4:], h(saltID, uint64(1<<40+j)))
		d.accounts = append(d.accounts, roster.Account{ID: hex.EncodeToString(id[:]), Name: name, Slug: roster.DeriveSlug(name),
			Status: roster.AccountActive, CreatedAt: created, UpdatedAt: created})
	}
	d.ids = make([][12]byte, entities)
	d.owner = make([]int32, entities)
	d.created = make([]int64, entities)
	d.updated = make([]int64, entities)
	d.byAccount = make([][]int32, accounts)
	step := max(int64(365*24*time.Hour/time.Microsecond)/int64(max(entities, 1)), 2)
	nowMicro := now.UnixMicro()
	for i := range entities {
		u := uint64(i)
		c := start + int64(i)*step + int64(h(saltJitter, u)%uint64(step-1))
		d.created[i] = c
		up := c + int64(h(saltUpdated, u)%uint64(30*24*time.Hour/time.Microsecond))
		if r := h(saltUpdated, u) >> 60; r < 6 { // about 60% never updated
			up = c
		}
		d.updated[i] = min(up, nowMicro-1)
		binary.BigEndian.PutUint32(d.ids[i][:4], uint32(c/1e6))
		binary.BigEndian.PutUint64(d.ids[i][4:], h(saltID, u))
		a := int32(h(saltOwner, u) % uint64(accounts))
		d.owner[i] = a
		d.byAccount[a] = append(d.byAccount[a], int32(i))
	}
	d.tied = make([]bool, accounts)
	for j, ents := range d.byAccount {
		n := len(ents)
		if n == 0 {
			continue
		}
		m := max(1, (n+500)/1000)
		for k := range m {
			d.deprecated[ents[(2*k+1)*n/(2*m)]] = true
		}
		if tiedAccount(j) {
			d.tied[j] = true
			// Later than every creation in the account: the last entity is its newest.
			at := min(d.created[ents[n-1]]+int64(time.Second/time.Microsecond), nowMicro-1)
			for _, e := range ents {
				d.updated[e] = at
			}
		}
	}
	return d
}

// addNoisy adds the noisy tenant: one more account, owning n entities at the maximum field
// sizes of SPEC §8 (heavyEntity), created through the last year like the others. It must be
// called before the world is made and the data seeded.
func (d *dataset) addNoisy(n int) {
	j := len(d.accounts)
	created := d.now.Add(-390 * 24 * time.Hour).UTC()
	var id [12]byte
	binary.BigEndian.PutUint32(id[:4], uint32(created.Unix()))
	binary.BigEndian.PutUint64(id[4:], h(saltID, uint64(1<<41)))
	name := "Noisy Neighbour Heavy Data LLC"
	d.accounts = append(d.accounts, roster.Account{ID: hex.EncodeToString(id[:]), Name: name, Slug: roster.DeriveSlug(name),
		Status: roster.AccountActive, CreatedAt: created, UpdatedAt: created})
	d.noisy = int32(j)
	d.byAccount = append(d.byAccount, nil)
	d.tied = append(d.tied, false)
	start := d.now.Add(-365 * 24 * time.Hour).UnixMicro()
	step := int64(365*24*time.Hour/time.Microsecond) / int64(n+1)
	for k := range n {
		i := len(d.ids)
		c := start + int64(k)*step + int64(h(saltJitter, uint64(i))%uint64(step))
		var eid [12]byte
		binary.BigEndian.PutUint32(eid[:4], uint32(c/1e6))
		binary.BigEndian.PutUint64(eid[4:], h(saltID, uint64(i)))
		d.ids = append(d.ids, eid)
		d.owner = append(d.owner, int32(j))
		d.created = append(d.created, c)
		d.updated = append(d.updated, c)
		d.byAccount[j] = append(d.byAccount[j], int32(i))
	}
}

// entityID is the bare hex id of entity i.
func (d *dataset) entityID(i int32) string { return hex.EncodeToString(d.ids[i][:]) }

// entityName is the seeded name of entity i: 200 characters for the noisy tenant's.
func (d *dataset) entityName(i int32) string {
	w := h(saltName, uint64(i))
	name := fmt.Sprintf("%s %s %s %d", nameFirst[w%32], nameSecond[w>>8%16], nameThird[w>>16%8], w>>24%10000)
	if d.noisy >= 0 && d.owner[i] == d.noisy {
		name = fill(name+" <Heavy & Co> ", "<Heavy & Co> ", 200)
	}
	return name
}

// fill repeats pad after s up to n characters (pad and s are ASCII here).
func fill(s, pad string, n int) string {
	for len(s) < n {
		s += pad
	}
	return s[:n]
}

func ptr[T any](v T) *T { return &v }

// entity builds the full seeded row of entity i.
func (d *dataset) entity(i int32) roster.Entity {
	w := h(saltFields, uint64(i))
	e := roster.Entity{
		ID:        d.entityID(i),
		AccountID: d.accounts[d.owner[i]].ID,
		Name:      d.entityName(i),
		ModuleIDs: moduleSets[w%4],
		FlowIDs:   []string{},
		CreatedAt: time.UnixMicro(d.created[i]).UTC(),
		UpdatedAt: time.UnixMicro(d.updated[i]).UTC(),
	}
	if s := w >> 2 % 4; s < 3 {
		e.Source = &roster.EntitySources[s]
	}
	if r := w >> 4 % 8; r < 6 {
		e.Recipient = &roster.EntityRecipients[r]
	}
	if w>>7%4 == 0 {
		e.Description = ptr("Seeded by roster bench: a " + nameSecond[w>>9%16] + " partner")
	}
	if w>>13%3 == 0 {
		e.Website = ptr(fmt.Sprintf("https://www.example-%d.com", w>>20%100000))
	}
	if w>>15%4 == 0 {
		e.TimeZone = &timeZones[w>>17%5]
	}
	if w>>40%8 == 0 {
		e.FlowIDs = []string{fmt.Sprintf("%024x", w>>8)}
	}
	e.TrustedFormCertifiedVendor = w>>44%5 == 0
	e.Deprecated = d.deprecated[i]
	if d.noisy >= 0 && d.owner[i] == d.noisy {
		heavyEntity(&e, w)
	}
	return e
}

// heavyEntity sets every field of e to its largest size under SPEC §8, with characters the
// JSON encoder escapes or that take four bytes: the noisy tenant's entities, the costliest a
// tenant can store, and so the costliest list pages to read and encode.
func heavyEntity(e *roster.Entity, w uint64) {
	// 5,000 characters, alternately "<" (six bytes in JSON: \u003c) and a four-byte emoji.
	var desc strings.Builder
	for k := range 5000 {
		if k%2 == 0 {
			desc.WriteString("<")
		} else {
			desc.WriteString("\U0001F4E6")
		}
	}
	e.Description = ptr(desc.String())
	e.ModuleIDs = make([]string, 50)
	for k := range e.ModuleIDs {
		e.ModuleIDs[k] = fill(fmt.Sprintf("leadconduit-module-%02d-", k), "<&>", 64)
	}
	e.FlowIDs = make([]string, 500)
	for k := range e.FlowIDs {
		e.FlowIDs[k] = fmt.Sprintf("%024x", h(saltFields, w^uint64(k))>>8|uint64(k)<<56)
	}
	e.LogoURL = ptr(fill("https://cdn.example.com/logo.png?", "a=1&b=2&", 2048))
	e.Website = ptr(fill(fmt.Sprintf("https://www.example-%d.com/?", w%100000), "utm=x&ref=y&", 2048))
	e.FieldSuffix = ptr("ZZZZZ")
	e.InvitationID = ptr(fmt.Sprintf("%024x", w>>4))
	e.TimeZone = &timeZones[w%5]
	e.Source = &roster.EntitySources[w%3]
	e.Recipient = &roster.EntityRecipients[w%6]
}

// entities yields every seeded entity in creation order.
func (d *dataset) entities() iter.Seq[roster.Entity] {
	return func(yield func(roster.Entity) bool) {
		for i := range d.ids {
			if !yield(d.entity(int32(i))) {
				return
			}
		}
	}
}

// relationships yields the seeded relationships: spread evenly over the entities, each entity
// holding up to three distinct types, created within a day of its entity.
func (d *dataset) relationshipSeq() iter.Seq[roster.Relationship] {
	n := int64(d.normal) // the noisy tenant's entities hold none
	total := int64(d.relationships)
	return func(yield func(roster.Relationship) bool) {
		for i := range n {
			k := (i+1)*total/n - i*total/n
			for r := range k {
				t := roster.RelationshipTypes[(i+r)%3]
				at := d.created[i] + int64(h(saltRelTime, uint64(i*3+r))%uint64(24*time.Hour/time.Microsecond))
				if !yield(roster.Relationship{AccountID: d.accounts[d.owner[i]].ID, EntityID: d.entityID(int32(i)), Type: t,
					CreatedAt: time.UnixMicro(min(at, d.now.UnixMicro()-1)).UTC()}) {
					return
				}
			}
		}
	}
}
