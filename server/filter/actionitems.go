package filter

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
)

// ActionItems is a parsed filter of ListActionItems: comparisons joined by
// AND, each of owner, state, convening, theme (= and !=) or due_date (=,
// <, <=, >, >=), that must all hold. The empty filter is a nil
// *ActionItems, which every item matches.
type ActionItems struct {
	conds []itemCond
}

type itemCond struct {
	field, op, value string
}

// itemCondRE is one comparison: a field, an operator, a value (quoted or
// bare).
var itemCondRE = regexp.MustCompile(`^\s*([a-z_]+)\s*(!=|<=|>=|=|<|>)\s*("(?:[^"\\]|\\.)*"|[^\s"]+)\s*$`)

// ParseActionItems parses a ListActionItems filter. An error is an *Error
// whose message names what is wrong.
func ParseActionItems(s string) (*ActionItems, error) {
	if len(s) > MaxLen {
		return nil, &Error{Pos: MaxLen, Msg: fmt.Sprintf("the filter is longer than %d bytes", MaxLen)}
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	f := &ActionItems{}
	pos := 0
	for _, part := range strings.Split(s, " AND ") {
		m := itemCondRE.FindStringSubmatch(part)
		if m == nil {
			return nil, &Error{Pos: pos, Msg: fmt.Sprintf("%q is not a comparison: want field op value, such as state = OPEN, joined by AND", strings.TrimSpace(part))}
		}
		field, op, value := m[1], m[2], m[3]
		if strings.HasPrefix(value, `"`) {
			v, err := strconv.Unquote(value)
			if err != nil {
				return nil, &Error{Pos: pos, Msg: fmt.Sprintf("%s: the value %s is not a valid quoted string", field, value)}
			}
			value = v
		}
		c, err := itemComparison(field, op, value)
		if err != nil {
			return nil, &Error{Pos: pos, Msg: err.Error()}
		}
		f.conds = append(f.conds, c)
		pos += len(part) + len(" AND ")
	}
	slices.SortFunc(f.conds, func(a, b itemCond) int {
		return strings.Compare(a.field+"\x00"+a.op+"\x00"+a.value, b.field+"\x00"+b.op+"\x00"+b.value)
	})
	f.conds = slices.Compact(f.conds)
	return f, nil
}

// itemComparison checks and normalises one comparison.
func itemComparison(field, op, value string) (itemCond, error) {
	eqOnly := func() error {
		if op != "=" && op != "!=" {
			return fmt.Errorf("%s compares with = or != only", field)
		}
		return nil
	}
	switch field {
	case "owner":
		if err := eqOnly(); err != nil {
			return itemCond{}, err
		}
		_, uerr := resname.ParseUser(value)
		_, oerr := resname.ParseOrganization(value)
		if value != "me" && uerr != nil && oerr != nil {
			return itemCond{}, fmt.Errorf("invalid owner %q: want users/{id}, organizations/{slug} or me", value)
		}
	case "state":
		if err := eqOnly(); err != nil {
			return itemCond{}, err
		}
		full := value
		if !strings.HasPrefix(full, "ACTION_ITEM_STATE_") {
			full = "ACTION_ITEM_STATE_" + full
		}
		if v, ok := forumv1.ActionItemState_value[full]; !ok || v == 0 {
			return itemCond{}, fmt.Errorf("invalid state %q: want OPEN, DONE or DROPPED", value)
		}
		value = full
	case "convening":
		if err := eqOnly(); err != nil {
			return itemCond{}, err
		}
		if !strings.HasPrefix(value, "convenings/") {
			value = "convenings/" + value
		}
		if _, err := resname.ParseConvening(value); err != nil {
			return itemCond{}, fmt.Errorf("invalid convening %q: want convenings/{slug}", value)
		}
	case "theme":
		if err := eqOnly(); err != nil {
			return itemCond{}, err
		}
		if !strings.HasPrefix(value, "themes/") {
			value = "themes/" + value
		}
		if _, err := resname.ParseTheme(value); err != nil {
			return itemCond{}, fmt.Errorf("invalid theme %q: want themes/{slug}", value)
		}
	case "due_date":
		if _, err := time.Parse(time.DateOnly, value); err != nil || len(value) != len(time.DateOnly) {
			return itemCond{}, fmt.Errorf("invalid due_date %q: want a date \"YYYY-MM-DD\"", value)
		}
	default:
		return itemCond{}, fmt.Errorf("unknown field %q; fields are owner, state, convening, theme, due_date", field)
	}
	return itemCond{field, op, value}, nil
}

// String is the filter's canonical form: its comparisons sorted, joined by
// AND.
func (f *ActionItems) String() string {
	if f == nil {
		return ""
	}
	var parts []string
	for _, c := range f.conds {
		parts = append(parts, c.field+c.op+strconv.Quote(c.value))
	}
	return strings.Join(parts, " AND ")
}

// Match reports whether item passes every comparison. me are the names
// `owner = me` stands for (the caller and their organisation).
func (f *ActionItems) Match(item *forumv1.ActionItem, me []string) bool {
	if f == nil {
		return true
	}
	for _, c := range f.conds {
		var ok bool
		switch c.field {
		case "owner":
			if c.value == "me" {
				ok = slices.Contains(me, item.GetOwner())
			} else {
				ok = item.GetOwner() == c.value
			}
		case "state":
			ok = item.GetState().String() == c.value
		case "convening":
			ok = item.GetConvening() == c.value
		case "theme":
			ok = item.GetTheme() == c.value
		case "due_date":
			d := item.GetDueDate()
			if d == "" {
				return false // no date: no comparison holds
			}
			switch c.op {
			case "=":
				ok = d == c.value
			case "!=":
				ok = d != c.value
			case "<":
				ok = d < c.value
			case "<=":
				ok = d <= c.value
			case ">":
				ok = d > c.value
			case ">=":
				ok = d >= c.value
			}
			if !ok {
				return false
			}
			continue
		}
		if ok == (c.op == "!=") {
			return false
		}
	}
	return true
}
