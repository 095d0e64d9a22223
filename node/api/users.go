package api

import (
	"bytes"
	"net/http"

	"nrmnet/node"
)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	users, err := s.node.Users(r.Context(), who)
	if err != nil {
		return err
	}
	out := userList{Users: []userBody{}}
	for _, u := range users {
		out.Users = append(out.Users, userOf(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeCreateUser(b)
	if err != nil {
		return err
	}
	u, token, err := s.node.AddUser(r.Context(), who, node.NewUser{ID: req.ID, Name: req.Name, Role: req.Role})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/users/"+u.ID)
	writeJSON(w, http.StatusCreated, createUserResponse{User: userOf(u), Token: token})
	return nil
}

func (s *Server) revokeUser(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) > 0 { // the body is optional; if sent, it is {}
		if err := decodeStrict(b, &struct{}{}); err != nil {
			return err
		}
	}
	u, err := s.node.RevokeUser(r.Context(), who, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse{User: userOf(u)})
	return nil
}
