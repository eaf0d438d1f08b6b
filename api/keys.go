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
	return func(k roster.APIKey) any {
		return keyView{ID: sf.id(roster.KindKey, k.ID), AccountID: sf.keyAccount(k), Role: string(k.Role), Name: k.Name,
			Prefix: k.Prefix, Status: string(k.Status(s.svc.Now())), LastUsedAt: optStamp(k.LastUsedAt),
			ExpiresAt: optStamp(k.ExpiresAt), CreatedAt: stamp(k.CreatedAt), UpdatedAt: stamp(k.UpdatedAt)}
	}
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

// canManageKeys refuses readers (every /v1/api-keys route) and suspended accounts' writes.
func (c *call) canManageKeys(write bool) error {
	if c.p.IsSuperadmin() {
		return nil
	}
	if c.p.Role != roster.RoleAdmin {
		return roster.Errorf(roster.CodeForbidden, "a reader key cannot manage keys")
	}
	if write {
		return c.p.CanWrite(c.p.AccountID)
	}
	return nil
}

func (s *Server) createKey(c *call) error {
	if err := c.canManageKeys(true); err != nil {
		return err
	}
	v, err := c.decodeBody()
	if err != nil {
		return err
	}
	in, err := decodeKeyCreate(c, v, s.svc.Now())
	problems := problemsOf(err)
	if err != nil && problems == nil {
		return err
	}
	live := c.sf.createdKey(true)
	saved := c.sf.createdKey(false)
	return mutateKey(c, problems, live, saved, func(w *roster.Write) (roster.CreatedKey, error) {
		return s.svc.CreateKeyWrite(c.r.Context(), c.p, in, w)
	})
}

// mutateKey is mutate with a replay copy that leaves out the secret.
func mutateKey(c *call, problems roster.Problems, live, saved func(roster.CreatedKey) any, op func(*roster.Write) (roster.CreatedKey, error)) error {
	return mutate(c, http.StatusCreated, false, problems, live, func(w *roster.Write) (roster.CreatedKey, error) {
		w.Saved = func(v any) (int, []byte, error) {
			b, err := encode(saved(v.(roster.CreatedKey)))
			return http.StatusCreated, b, err
		}
		return op(w)
	})
}

// decodeKeyCreate reads {account_id, name, role?, expires_at?, user_id (ignored)}. The
// account_id tenancy check (403) comes first, as for every body that chooses an account.
func decodeKeyCreate(c *call, v any, now time.Time) (roster.KeyCreate, error) {
	b := roster.NewBody(v)
	var in roster.KeyCreate
	if !b.Valid() {
		return in, b.Problems.Err()
	}
	ps := &b.Problems
	role := b.String("role", false)
	in.Role = roster.RoleAdmin
	if role.Has() {
		switch r := roster.Role(role.V); r {
		case roster.RoleAdmin, roster.RoleReader, roster.RoleSuperadmin:
			in.Role = r
		default:
			ps.Enum([]string{"admin", "reader", "superadmin"}, "body", "role")
		}
	}
	account := b.String("account_id", in.Role != roster.RoleSuperadmin)
	unknown := false // a well-formed id that names nothing: 404, once the body is otherwise valid
	if account.Has() {
		if !c.p.IsSuperadmin() {
			if _, err := c.p.PathAccount(account.V); err != nil {
				return in, err
			}
		}
		id, ok := roster.ParseID(roster.KindAccount, account.V)
		switch {
		case !ok:
			ps.Add("string_pattern_mismatch", "String should match pattern '"+roster.KindAccount.Pattern()+"'", "body", "account_id")
		case id == "":
			unknown = true
		default:
			in.AccountID = id
		}
	} else if account.Null && in.Role != roster.RoleSuperadmin {
		ps.Add("string_type", "Input should be a valid string", "body", "account_id")
	}
	name := b.String("name", true)
	if name.Null {
		ps.Add("string_type", "Input should be a valid string", "body", "name")
	} else if name.Has() && ps.CheckLen(name.V, 1, 100, "body", "name") {
		in.Name = name.V
	}
	if exp := b.String("expires_at", false); exp.Has() {
		t, err := time.Parse(time.RFC3339Nano, exp.V)
		switch {
		case err != nil:
			ps.Add("datetime_from_date_parsing", "Input should be a valid datetime", "body", "expires_at")
		case !t.After(now):
			ps.Add("value_error", "Value error, expires_at must be in the future", "body", "expires_at")
		default:
			t = t.UTC().Truncate(time.Microsecond)
			in.ExpiresAt = &t
		}
	}
	b.Ignore("user_id", "id", "prefix", "status", "last_used_at", "created_at", "updated_at")
	if err := b.Finish(); err != nil || !unknown {
		return in, err
	}
	return in, roster.Errorf(roster.CodeNotFound, "account not found")
}

func (s *Server) listKeys(c *call) error {
	if err := c.canManageKeys(false); err != nil {
		return err
	}
	req := c.pageRequest(roster.Keys, "status", "account_id")
	page, err := s.svc.ListKeys(c.r.Context(), c.p, req)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nativePage(page, s.keyView(c.sf)))
}

func (c *call) pathKey() (string, error) {
	id, ok := roster.ParseID(roster.KindKey, c.r.PathValue("key_id"))
	if !ok {
		return "", roster.Invalid("string_pattern_mismatch", "String should match pattern '"+roster.KindKey.Pattern()+"'", "path", "key_id")
	}
	return id, nil
}

func (s *Server) getKey(c *call) error {
	if err := c.canManageKeys(false); err != nil {
		return err
	}
	id, err := c.pathKey()
	if err != nil {
		return err
	}
	k, err := s.svc.Key(c.r.Context(), c.p, id)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, s.keyView(c.sf)(k))
}

func (s *Server) patchKey(c *call) error {
	if err := c.canManageKeys(true); err != nil {
		return err
	}
	id, idErr := c.pathKey()
	v, err := c.decodeBody()
	if err != nil {
		return err
	}
	b := roster.NewBody(v)
	var in roster.KeyPatch
	if b.Valid() {
		if name := b.String("name", false); name.Has() && b.Problems.CheckLen(name.V, 1, 100, "body", "name") {
			in.Name = name
		}
		if st := b.String("status", false); st.Has() {
			switch roster.KeyStatus(st.V) {
			case roster.KeyRevoked:
				in.Revoke = true
			case roster.KeyActive:
				in.Activate = true
			default:
				b.Problems.Enum([]string{"active", "revoked"}, "body", "status")
			}
		}
		if del := b.Bool("deleted", false); del.Has() {
			in.Deleted = del.V
		}
		b.Ignore("id", "account_id", "role", "prefix", "last_used_at", "expires_at", "created_at", "updated_at", "user_id")
	}
	err = b.Finish()
	problems := append(problemsOf(idErr), problemsOf(err)...)
	return mutate(c, http.StatusOK, false, problems, s.keyView(c.sf), func(w *roster.Write) (roster.APIKey, error) {
		return s.svc.PatchKey(c.r.Context(), c.p, id, in, w)
	})
}

type nonceView struct {
	NonceValue string `json:"nonce_value"`
	ExpiresAt  stamp  `json:"expires_at"`
}

func (s *Server) nonce(c *call) error {
	n, err := s.svc.IssueNonce(c.r.Context(), c.p)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nonceView{NonceValue: n.Value, ExpiresAt: stamp(n.ExpiresAt)})
}
