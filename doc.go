// Package forum is a knowledge-exchange forum: themes, threads and replies
// served over gRPC (package forum.v1) and as JSON over HTTP, stored in bbolt.
//
// The packages that matter to integrators are [github.com/forumhq/forum/gen/forum/v1]
// (the API) and [github.com/forumhq/forum/client]. The server is cmd/forumd.
//
// Regenerate the code under gen/ after changing proto/ with:
//
//	go generate .
package forum

//go:generate bash scripts/gen.sh
