package api

import (
	"errors"
	"net"
	"net/http"

	"github.com/rosterhq/roster"
)

// The audit trail's routes (SPEC §15) and what the trail reads of a request.

// source is where the request came from: the connection's peer address (never a forwarding
// header, which any client can write) and its User-Agent.
func (c *call) source() roster.Source {
	ip := c.r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	return roster.Source{IP: ip, UserAgent: c.header("User-Agent")}
}

// auditRequest is the request as a read of the trail records it.
func (c *call) auditRequest() *roster.Request {
	return &roster.Request{Principal: c.p, ID: c.reqID, IdempotencyKey: c.header("Idempotency-Key"), Source: c.source()}
}

// auditRefusal records a request refused with 401 or 403 by the route (err is what serveRoute
// returns); other outcomes are not refusals.
func (s *Server) auditRefusal(c *call, err error) {
	var e *roster.Error
	if err == nil || !errors.As(err, &e) || c.r.Context().Err() != nil {
		return
	}
	switch e.Code {
	case roster.CodeUnauthorized:
		s.svc.AuditRefusal(c.auditRequest(), http.StatusUnauthorized)
	case roster.CodeForbidden, roster.CodeAccountSuspended:
		s.svc.AuditRefusal(c.auditRequest(), http.StatusForbidden)
	}
}

func (s *Server) listAudit(c *call) error {
	req := c.pageRequest(roster.AuditListing, append([]string{"account_id"}, roster.AuditFilters...)...)
	page, err := s.svc.ListAudit(c.ctx(), c.auditRequest(), req)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nativePage(page, func(r roster.AuditRecord) any { return r }))
}

func (s *Server) getAudit(c *call) error {
	rec, err := s.svc.AuditEvent(c.ctx(), c.auditRequest(), c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, rec)
}

// auditHeadView is a chain's head: its last record's sequence and hash.
type auditHeadView struct {
	Sequence int64  `json:"sequence"`
	Hash     string `json:"hash"`
}

type auditVerifiedView struct {
	OK      bool          `json:"ok"`
	Records int64         `json:"records"`
	Head    auditHeadView `json:"head"`
}

type auditBrokenView struct {
	OK             bool           `json:"ok"`
	RecordsChecked int64          `json:"records_checked"`
	FirstBad       auditBreakView `json:"first_bad"`
}

type auditBreakView struct {
	Sequence int64   `json:"sequence"`
	ID       *string `json:"id"`
	Reason   string  `json:"reason"`
}

// verificationView renders a chain's verification in SPEC §15's two shapes.
func verificationView(v roster.AuditVerification) any {
	if v.OK {
		return auditVerifiedView{OK: true, Records: v.Records, Head: auditHeadView{Sequence: v.Head.Sequence, Hash: v.Head.Hash}}
	}
	b := auditBreakView{Sequence: v.FirstBad.Sequence, Reason: v.FirstBad.Reason}
	if v.FirstBad.ID != "" {
		b.ID = optString(roster.KindAudit.Prefixed(v.FirstBad.ID))
	}
	return auditBrokenView{RecordsChecked: v.Records, FirstBad: b}
}

func (s *Server) verifyAudit(c *call) error {
	v, err := s.svc.VerifyAudit(c.ctx(), c.auditRequest(), c.param("account_id"), c.param("head"))
	if err != nil && roster.ErrorCode(err) == roster.CodeRateLimited {
		c.w.Header().Set("Retry-After", "1")
	}
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, verificationView(v))
}
