package roster_test

import (
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

func BenchmarkWellFormedSecret(b *testing.B) {
	s := roster.NewSecret()
	b.ReportAllocs()
	for b.Loop() {
		if !roster.WellFormedSecret(s) {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkHashSecret(b *testing.B) {
	s := roster.NewSecret()
	b.ReportAllocs()
	for b.Loop() {
		_ = roster.HashSecret(s)
	}
}

var benchPrincipal = roster.Principal{AccountID: roster.NewID(time.Now()), Role: roster.RoleAdmin}

func benchPlan() (roster.Plan, []roster.Entity) {
	p := benchPrincipal
	pl, _ := roster.EntityListing.Plan(roster.PageRequest{Limit: 20, Principal: p, Filters: map[string]string{"source": "form"}},
		func(map[string]string) ([]roster.Filter, error) { return nil, nil })
	rows := make([]roster.Entity, 21)
	for i := range rows {
		rows[i] = roster.Entity{ID: roster.NewID(time.Now()), Name: "entity", CreatedAt: time.Now()}
	}
	return pl, rows
}

func BenchmarkCursorEncode(b *testing.B) {
	pl, rows := benchPlan()
	b.ReportAllocs()
	for b.Loop() {
		p := roster.BuildPage(rows, pl, roster.EntityValue)
		if p.Next == "" {
			b.Fatal("no cursor")
		}
	}
}

func BenchmarkCursorDecode(b *testing.B) {
	pl, rows := benchPlan()
	page := roster.BuildPage(rows, pl, roster.EntityValue)
	req := roster.PageRequest{Limit: 20, Cursor: page.Next, Principal: benchPrincipal}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := roster.EntityListing.Plan(req, func(map[string]string) ([]roster.Filter, error) { return nil, nil }); err != nil {
			b.Fatal(err)
		}
	}
}

var entityBody = []byte(`{"name":"A Corporation","module_ids":["<string>"],"source":"form","recipient":"buyer",
"description":"<string>","deprecated":false,"field_suffix":"acorp","invitation_id":"5fd4371e940df5a34a3888b2",
"flow_ids":["5fd4371e940df5a34a3888b2"],"logo_url":"https://example.com/logo.png","time_zone":"America/Los Angeles",
"trustedform_certified_vendor":true,"website":"https://example.com"}`)

func BenchmarkDecodeEntity(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		v, err := roster.DecodeJSON(entityBody)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := roster.DecodeEntity(v, roster.EntityReplace); err != nil {
			b.Fatal(err)
		}
	}
}
