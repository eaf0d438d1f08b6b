package api

import (
	"net/http"
	"time"

	"github.com/rosterhq/roster"
)

type keyView struct {
	ID         string  `json:"id"`
	AccountID  *string `json:"account_id"`
	Role       string  `json:"role"`
	Name       string  `json:"name"`
	Prefix     string  `json:"prefix"`
	Status     string  `json:"status"`
	LastUsedAt *stamp  `json:"last_used_at"`
	ExpiresAt  *stamp  `json:"expires_at"`
	CreatedAt  stamp   `json:"created_at"`
	UpdatedAt  stamp   `json:"updated_at"`
}

// createdKeyView is LEADR's CreateAPIKeyResponse with account_id and role.
type createdKeyView struct {
	ID        string  `json:"id"`
	AccountID *string `json:"account_id"`
	Role      string  `json:"role"`
	Name      string  `json:"name"`
	Key       *string `json:"key"`
	Prefix    string  `json:"prefix"`
	Status    string  `json:"status"`
	ExpiresAt *stamp  `json:"expires_at"`
	CreatedAt stamp   `json:"created_at"`
}

func (s *surface) keyAccount(k roster.APIKey) *string {
	if k.AccountID == "" {
		return nil
	}
	v := s.id(roster.KindAccount, k.AccountID)
	return &v
}

func (s *Server) keyView(sf *surface) func(roster.APIKey) any {
	return func(k roster.APIKey) any { return sf.key(k, s.svc.Now()) }
}

// key renders a key as it stands at now (its status depends on it).
func (s *surface) key(k roster.APIKey, now time.Time) keyView {
	return keyView{ID: s.id(roster.KindKey, k.ID), AccountID: s.keyAccount(k), Role: string(k.Role), Name: k.Name,
		Prefix: k.Prefix, Status: string(k.Status(now)), LastUsedAt: optStamp(k.LastUsedAt),
		ExpiresAt: optStamp(k.ExpiresAt), CreatedAt: stamp(k.CreatedAt), UpdatedAt: stamp(k.UpdatedAt)}
}

func (s *surface) createdKey(withSecret bool) func(roster.CreatedKey) any {
	return func(ck roster.CreatedKey) any {
		k := ck.Key
		v := createdKeyView{ID: s.id(roster.KindKey, k.ID), AccountID: s.keyAccount(k), Role: string(k.Role), Name: k.Name,
			Prefix: k.Prefix, Status: string(roster.KeyActive), ExpiresAt: optStamp(k.ExpiresAt), CreatedAt: stamp(k.CreatedAt)}
		if withSecret {
			v.Key = &ck.Secret
		}
		return v
	}
}

func (s *Server) createKey(c *call) error {
	w := newWrite(c, http.StatusCreated, c.sf.createdKey(true))
	saved := c.sf.createdKey(false)
	w.req.Saved = func(v any) (int, []byte, error) {
		b, err := encode(saved(v.(roster.CreatedKey)))
		return http.StatusCreated, b, err
	}
	return w.answer(s.svc.CreateKey(c.ctx(), w.req, c.body))
}

func (s *Server) listKeys(c *call) error {
	req := c.pageRequest(roster.KeyListing, "status", "account_id")
	page, err := s.svc.ListKeys(c.ctx(), c.p, req)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nativePage(page, s.keyView(c.sf)))
}

func (s *Server) getKey(c *call) error {
	k, err := s.svc.Key(c.ctx(), c.p, c.r.PathValue("key_id"))
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, s.keyView(c.sf)(k))
}

func (s *Server) patchKey(c *call) error {
	w := newWrite(c, http.StatusOK, s.keyView(c.sf))
	return w.answer(s.svc.PatchKey(c.ctx(), w.req, c.r.PathValue("key_id"), c.body))
}

type nonceView struct {
	NonceValue string `json:"nonce_value"`
	ExpiresAt  stamp  `json:"expires_at"`
}

func (s *Server) nonce(c *call) error {
	n, err := s.svc.IssueNonce(c.ctx(), c.p)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nonceView{NonceValue: n.Value, ExpiresAt: stamp(n.ExpiresAt)})
}
