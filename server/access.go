package server

import "github.com/forumhq/forum/server/authz"

// need returns what a caller needs to call method, and whether the access
// table has it: authz.Need, with the server's settings that open a method
// to anyone (Config.PublicDirectory opens ListUsers). The table and every
// other authorisation rule are in package authz.
func (s *Server) need(method string) (authz.Level, bool) {
	return authz.Need(method, s.authzSettings())
}

// authzSettings are the server's settings that change authorisation
// decisions.
func (s *Server) authzSettings() authz.Settings {
	return authz.Settings{PublicDirectory: s.publicDirectory, SelfRegistration: s.selfRegistration}
}
