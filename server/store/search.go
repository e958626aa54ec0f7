package store

import (
	"context"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The store's side of search: what SearchService reads around its query
// of the index (server/search), each in one transaction.

// VisibleThemes returns the names of the themes actor may see now: the
// themes a search may find posts in.
func (s *Store) VisibleThemes(ctx context.Context, actor authz.Actor) ([]string, error) {
	var names []string
	access := s.themeAccess(actor)
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		names = names[:0]
		slugs, err := keysIn(tx, bucketThemeGates, nil, nil, false)
		if err != nil {
			return err
		}
		for _, slug := range slugs {
			name := "themes/" + string(slug)
			if ok, err := access.allows(tx, name); err != nil {
				return err
			} else if ok {
				names = append(names, name)
			}
		}
		return nil
	})
	return names, err
}

// PostSummary is what a search hit shows of a post besides its snippet.
type PostSummary struct {
	// Name is the post's: a thread's or a reply's.
	Name string
	// Thread, ThreadTitle and Theme are its thread's.
	Thread, ThreadTitle, Theme string
	// Author and CreateTime are the post's own.
	Author     string
	CreateTime *timestamppb.Timestamp
}

// PostSummaries returns, in the order of names, the summaries of the
// posts (thread or reply names) that actor may read now and that are not
// deleted; the others (gone, deleted, or not the actor's to read, since
// the index found them) are left out.
func (s *Store) PostSummaries(ctx context.Context, actor authz.Actor, names []string) ([]PostSummary, error) {
	var out []PostSummary
	access := s.themeAccess(actor)
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		out = out[:0]
		threads := map[uint64]*forumv1.Thread{} // nil: not readable
		for _, name := range names {
			var reply *forumv1.Reply
			tn, err := resname.ParseThread(name)
			if err != nil {
				rn, err := resname.ParseReply(name)
				if err != nil {
					continue
				}
				tn = rn.Thread
				if reply, err = getReply(tx, rn.Thread.ID, rn.ID); gone(err) || (err == nil && reply.DeleteTime != nil) {
					continue
				} else if err != nil {
					return err
				}
			}
			t, ok := threads[tn.ID]
			if !ok {
				t, _, err = visibleThread(tx, access, tn)
				if gone(err) || (err == nil && t.DeleteTime != nil) {
					t, err = nil, nil
				} else if err != nil {
					return err
				}
				threads[tn.ID] = t
			}
			if t == nil {
				continue
			}
			p := PostSummary{Name: name, Thread: t.Name, ThreadTitle: t.Title, Theme: t.Theme, Author: t.Author, CreateTime: t.CreateTime}
			if reply != nil {
				p.Author, p.CreateTime = reply.Author, reply.CreateTime
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// gone reports whether err says a post is not there, or not there for the
// reader.
func gone(err error) bool {
	k := errs.KindOf(err)
	return k == errs.NotFound || k == errs.PermissionDenied
}
