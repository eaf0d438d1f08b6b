package e2e

// The sequential specifications the linearizability harness (linearizable_test.go) checks its
// histories against, one porcupine model per kind of object: an entity's fields, an API key,
// an account's name and status, and the relationships of a few entities of one account. Each
// model partitions a history by object, so every object is checked on its own (SPEC §11:
// linearizable per object).
//
// A model's state is a comparable value (porcupine compares states with ==). An operation's
// output is what the client saw: the status, and the parts of the body that the operation
// decides. Output status 0 is an answer that never came (a transport error, or a 5xx): its
// operation may have happened or not, so its Return is the end of the run and the model lets
// it take effect wherever the checker places it (placed after everything else, it is as if it
// never ran). A 429 changed nothing.

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// linOut is what a client saw of one operation.
type linOut struct {
	Status int    // 0: no answer (outcome unknown)
	Code   string // the error code of a 4xx, if any
	// Fields holds the body's values that the operation decides, JSON-encoded, in the order
	// of the kind's field list (entity, key, account); for a relationship list, the pairs.
	Fields string
	Mask   uint16 // relationships: the pairs listed, or the not_found entities of a batch
}

func (o linOut) String() string {
	switch {
	case o.Status == 0:
		return "no answer"
	case o.Code != "":
		return fmt.Sprintf("%d %s", o.Status, o.Code)
	case o.Fields != "":
		return fmt.Sprintf("%d %s", o.Status, o.Fields)
	default:
		return fmt.Sprint(o.Status)
	}
}

// linIn is one operation a client sent.
type linIn struct {
	Obj   string // the object's partition key: kind and id
	Op    string // "patch", "get", "delete", "rename", "revoke", "activate", "self", "suspend", "unsuspend", "batch", "list"
	Field int    // entity: the index in linEntityFields of the field a patch sets
	Value string // the JSON value a patch or rename sets
	Via   string // the surface or caller, for the visualization only
	IDs   []int  // batch: indices of the account's relationship entities, in request order
	Type  int    // batch: the index in linRelTypes of the relationship type
	Ent   int    // relationships: the entity a delete or get names
}

func (in linIn) String() string {
	s := in.Op
	switch in.Op {
	case "patch":
		s += " " + linEntityFields[in.Field] + "=" + in.Value
	case "rename":
		s += " " + in.Value
	case "batch":
		s += fmt.Sprintf(" %v %s", in.IDs, linRelTypes[in.Type])
	case "delete", "get":
		if strings.HasPrefix(in.Obj, "rels ") {
			s += fmt.Sprint(" entity ", in.Ent)
		}
	}
	if in.Via != "" {
		s += " (" + in.Via + ")"
	}
	return s
}

// partitionByObj splits a history into one history per object.
func partitionByObj(history []porcupine.Operation) [][]porcupine.Operation {
	byObj := map[string][]porcupine.Operation{}
	var order []string
	for _, op := range history {
		obj := op.Input.(linIn).Obj
		if _, ok := byObj[obj]; !ok {
			order = append(order, obj)
		}
		byObj[obj] = append(byObj[obj], op)
	}
	out := make([][]porcupine.Operation, 0, len(order))
	for _, obj := range order {
		out = append(out, byObj[obj])
	}
	return out
}

func describeOp(input, output any) string {
	return fmt.Sprintf("%v → %v", input, output)
}

// linEntityFields are the entity fields the clients patch, one at a time.
var linEntityFields = []string{"name", "description", "deprecated", "field_suffix", "time_zone"}

// linEntityInitial is every harness entity's fields at creation.
var linEntityInitial = [5]string{`"linearizable entity"`, `null`, `false`, `null`, `null`}

// entityState is one entity: its patched fields (JSON-encoded), or deleted.
type entityState struct {
	F       [5]string
	Deleted bool
}

func (s entityState) fields() string { return strings.Join(s.F[:], " ") }

// entityModel: PATCH sets one field and answers the whole entity; GET answers it; DELETE
// answers it as it was and then the entity is gone (404 for everything).
var entityModel = porcupine.Model{
	Partition: partitionByObj,
	Init:      func() any { return entityState{F: linEntityInitial} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(entityState), input.(linIn), output.(linOut)
		if out.Status == 429 {
			return true, s
		}
		if s.Deleted {
			return out.Status == 0 || out.Status == 404 && out.Code == "not_found", s
		}
		switch in.Op {
		case "patch":
			next := s
			next.F[in.Field] = in.Value
			return out.Status == 0 || out.Status == 200 && out.Fields == next.fields(), next
		case "get":
			return out.Status == 200 && out.Fields == s.fields(), s
		case "delete":
			next := entityState{F: s.F, Deleted: true}
			return out.Status == 0 || out.Status == 200 && out.Fields == s.fields(), next
		}
		return false, s
	},
	DescribeOperation: describeOp,
	DescribeState: func(state any) string {
		s := state.(entityState)
		if s.Deleted {
			return "deleted"
		}
		var parts []string
		for i, f := range linEntityFields {
			parts = append(parts, f+"="+s.F[i])
		}
		return strings.Join(parts, ", ")
	},
}

// linKeyInitialName is the name of every victim key at creation.
const linKeyInitialName = `"victim"`

// keyState is one API key: its name (JSON-encoded) and whether it is revoked.
type keyState struct {
	Name    string
	Revoked bool
}

func (s keyState) fields() string { return fmt.Sprintf("%s %t", s.Name, s.Revoked) }

// keyModel: the account's admin renames, revokes, tries to reactivate (a no-op on an active
// key, 422 on a revoked one: revocation is final) and reads the key; the key itself reads its
// account ("self"), which is 200 while it is active and 401 once it is revoked. Every answer
// of the admin carries the key's name and status after the operation.
var keyModel = porcupine.Model{
	Partition: partitionByObj,
	Init:      func() any { return keyState{Name: linKeyInitialName} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(keyState), input.(linIn), output.(linOut)
		if out.Status == 429 {
			return true, s
		}
		switch in.Op {
		case "rename":
			next := keyState{Name: in.Value, Revoked: s.Revoked}
			return out.Status == 0 || out.Status == 200 && out.Fields == next.fields(), next
		case "revoke":
			next := keyState{Name: s.Name, Revoked: true}
			return out.Status == 0 || out.Status == 200 && out.Fields == next.fields(), next
		case "activate":
			if s.Revoked {
				return out.Status == 0 || out.Status == 422, s
			}
			return out.Status == 0 || out.Status == 200 && out.Fields == s.fields(), s
		case "get":
			return out.Status == 200 && out.Fields == s.fields(), s
		case "self":
			if s.Revoked {
				return out.Status == 401, s
			}
			return out.Status == 200, s
		}
		return false, s
	},
	DescribeOperation: describeOp,
	DescribeState:     func(state any) string { return state.(keyState).fields() },
}

// linAccountInitialName is the name of every suspension-target account at creation.
const linAccountInitialName = `"linearizable target"`

// accountState is one account: its name (JSON-encoded) and status.
type accountState struct {
	Name      string
	Suspended bool
}

func (s accountState) status() string {
	if s.Suspended {
		return `"suspended"`
	}
	return `"active"`
}

func (s accountState) fields() string { return s.Name + " " + s.status() }

// accountModel: the superadmin suspends and unsuspends the account while the account's admin
// renames it; both read it. A rename of a suspended account is 403 account_suspended.
//
// A rename is one step, taken only while the account is active (SPEC §3, §11). A rename whose
// suspension check passed before a concurrent suspension but whose write lands after it (the
// check at authentication, the write in a later transaction) is a violation: the suspension
// was answered and read, and the tenant's write still came after it. A write's answer is
// checked on the field it wrote (a rename's name, a suspension's status), a read's on both.
var accountModel = accountModelWith(false)

// accountModelWith is accountModel, or with late true the model that also lets a rename take
// effect while the account is suspended (returning 200): only to tell, when accountModel
// refuses a history, whether a lost write or only a late rename is to blame.
func accountModelWith(late bool) porcupine.Model {
	return porcupine.Model{
		Partition: partitionByObj,
		Init:      func() any { return accountState{Name: linAccountInitialName} },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(accountState), input.(linIn), output.(linOut)
			if out.Status == 429 {
				return true, s
			}
			switch in.Op {
			case "rename":
				if s.Suspended && (!late || out.Status == 403) {
					return out.Status == 0 || out.Status == 403 && out.Code == "account_suspended", s
				}
				next := accountState{Name: in.Value, Suspended: s.Suspended}
				return out.Status == 0 || out.Status == 200 && out.Fields == in.Value, next
			case "suspend", "unsuspend":
				next := accountState{Name: s.Name, Suspended: in.Op == "suspend"}
				return out.Status == 0 || out.Status == 200 && out.Fields == next.status(), next
			case "get":
				return out.Status == 200 && out.Fields == s.fields(), s
			}
			return false, s
		},
		DescribeOperation: describeOp,
		DescribeState:     func(state any) string { return state.(accountState).fields() },
	}
}

// linRelTypes are the relationship types; linRelEntities entities per account take part.
var linRelTypes = []string{"account_holder", "authorized_signer", "authorized_user"}

const linRelEntities = 3

// relBit is the bit of the pair (entity, type) in a relationship mask.
func relBit(entity, typ int) uint16 { return 1 << (entity*len(linRelTypes) + typ) }

// relEntityMask is every pair of one entity.
func relEntityMask(entity int) uint16 {
	var m uint16
	for t := range linRelTypes {
		m |= relBit(entity, t)
	}
	return m
}

// relState is the relationships of an account's few entities, and which of them are deleted.
type relState struct {
	Pairs   uint16 // relBit of each relationship that exists
	Deleted uint8  // bit i: entity i is deleted
}

func describePairs(m uint16) string {
	var parts []string
	for e := range linRelEntities {
		for t, typ := range linRelTypes {
			if m&relBit(e, t) != 0 {
				parts = append(parts, fmt.Sprintf("%d:%s", e, typ))
			}
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// relModel: a batch puts entities in a role, all or nothing (422 naming each deleted entity
// as not_found); deleting an entity removes its relationships; a list (/v1 or /v0) shows every
// relationship of the account; a GET of an entity is 404 once it is deleted.
var relModel = porcupine.Model{
	Partition: partitionByObj,
	Init:      func() any { return relState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(relState), input.(linIn), output.(linOut)
		if out.Status == 429 {
			return true, s
		}
		deleted := func(e int) bool { return s.Deleted&(1<<e) != 0 }
		switch in.Op {
		case "batch":
			var missing uint16
			var add uint16
			for _, e := range in.IDs {
				if deleted(e) {
					missing |= 1 << e
				}
				add |= relBit(e, in.Type)
			}
			if missing != 0 {
				return out.Status == 0 || out.Status == 422 && out.Mask == missing, s
			}
			next := relState{Pairs: s.Pairs | add, Deleted: s.Deleted}
			return out.Status == 0 || out.Status == 200, next
		case "delete":
			if deleted(in.Ent) {
				return out.Status == 0 || out.Status == 404 && out.Code == "not_found", s
			}
			next := relState{Pairs: s.Pairs &^ relEntityMask(in.Ent), Deleted: s.Deleted | 1<<in.Ent}
			return out.Status == 0 || out.Status == 200, next
		case "get":
			if deleted(in.Ent) {
				return out.Status == 404 && out.Code == "not_found", s
			}
			return out.Status == 200, s
		case "list":
			return out.Status == 200 && out.Mask == s.Pairs, s
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linIn), output.(linOut)
		if in.Op == "list" && out.Status == 200 {
			return fmt.Sprintf("%v → %s", in, describePairs(out.Mask))
		}
		if in.Op == "batch" && out.Status == 422 {
			var idx []int
			for e := range linRelEntities {
				if out.Mask&(1<<e) != 0 {
					idx = append(idx, e)
				}
			}
			return fmt.Sprintf("%v → 422 not_found %v", in, idx)
		}
		return describeOp(input, output)
	},
	DescribeState: func(state any) string {
		s := state.(relState)
		var del []int
		for e := range linRelEntities {
			if s.Deleted&(1<<e) != 0 {
				del = append(del, e)
			}
		}
		slices.Sort(del)
		return fmt.Sprintf("pairs %s (%d), deleted %v", describePairs(s.Pairs), bits.OnesCount16(s.Pairs), del)
	},
}
