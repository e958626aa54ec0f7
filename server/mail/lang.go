package mail

import (
	"strconv"
	"strings"
)

// The kinds of Item, as NotificationKind names them
// (proto/forum/v1/notification_service.proto).
const (
	KindReply       = "reply"        // someone replied to the user's thread or reply
	KindMention     = "mention"      // someone mentioned the user
	KindWatchedPost = "watched_post" // a new post in a thread or theme the user watches
	KindFollowUp    = "follow_up"    // a follow-up thread was opened on the user's thread
	KindResolved    = "resolved"     // a thread the user started or watches was resolved
)

// The periods of Digest.
const (
	PeriodDaily  = "daily"
	PeriodWeekly = "weekly"
)

// catalog holds one language's words. Placeholders in braces ({actor},
// {title}, {name}, {n}) are filled by fill; every other character is
// text. French uses no-break spaces (U+00A0) inside « » and before a colon.
type catalog struct {
	// headline is the sentence of an immediate notification, by kind,
	// with {actor} and {title} (the title already in quote marks).
	headline map[string]string
	// action is what the actor did, by kind, with {actor}: a digest's
	// line under the thread's title.
	action map[string]string
	// quote puts a thread title, {title}, in the language's quote marks.
	quote string
	// someone stands for an actor without a name.
	someone string
	// hello and helloName open the mail, without and with {name}.
	hello, helloName string
	// viewPost labels the link to the post.
	viewPost string
	// colon ends a label before its link, ": " (French puts a no-break
	// space before it).
	colon string
	// digestSubject is the digest's subject by period, singular and
	// plural forms with {n}.
	digestSubject map[string][2]string
	// digestIntro opens the digest, by period.
	digestIntro map[string]string
	// more says how many posts were left out, singular and plural with {n}.
	more [2]string
	// openForum labels the link to the forum.
	openForum string
	// why says why the mail was sent; settings and unsubscribe label the
	// footer's links.
	why, settings, unsubscribe string
	// timeLayout formats an item's time (time.Time.Format).
	timeLayout string
	// singular reports whether n takes the singular form.
	singular func(n int) bool
}

// catalogs are the languages there are; en is the fallback. They are read
// only.
var catalogs = map[string]*catalog{
	"en": {
		headline: map[string]string{
			KindReply:       "{actor} replied to {title}",
			KindMention:     "{actor} mentioned you in {title}",
			KindWatchedPost: "{actor} posted in {title}",
			KindFollowUp:    "{actor} opened a follow-up: {title}",
			KindResolved:    "{actor} marked {title} as resolved",
		},
		action: map[string]string{
			KindReply:       "{actor} replied",
			KindMention:     "{actor} mentioned you",
			KindWatchedPost: "{actor} posted",
			KindFollowUp:    "{actor} opened a follow-up",
			KindResolved:    "{actor} marked it resolved",
		},
		quote:     "“{title}”",
		someone:   "Someone",
		hello:     "Hello,",
		helloName: "Hello {name},",
		viewPost:  "View the post",
		colon:     ": ",
		digestSubject: map[string][2]string{
			PeriodDaily:  {"Your daily digest: {n} new post", "Your daily digest: {n} new posts"},
			PeriodWeekly: {"Your weekly digest: {n} new post", "Your weekly digest: {n} new posts"},
		},
		digestIntro: map[string]string{
			PeriodDaily:  "What's new today in the threads and themes you watch:",
			PeriodWeekly: "What's new this week in the threads and themes you watch:",
		},
		more:        [2]string{"and {n} more post", "and {n} more posts"},
		openForum:   "Open the forum",
		why:         "You receive this e-mail because of your notification settings.",
		settings:    "Change your e-mail settings",
		unsubscribe: "Unsubscribe",
		timeLayout:  "2006-01-02 15:04",
		singular:    func(n int) bool { return n == 1 },
	},
	"fr": {
		headline: map[string]string{
			KindReply:       "{actor} a répondu à {title}",
			KindMention:     "{actor} vous a mentionné dans {title}",
			KindWatchedPost: "{actor} a publié dans {title}",
			KindFollowUp:    "{actor} a ouvert une suite\u00a0: {title}",
			KindResolved:    "{actor} a marqué {title} comme résolu",
		},
		action: map[string]string{
			KindReply:       "{actor} a répondu",
			KindMention:     "{actor} vous a mentionné",
			KindWatchedPost: "{actor} a publié",
			KindFollowUp:    "{actor} a ouvert une suite",
			KindResolved:    "{actor} l’a marqué comme résolu",
		},
		quote:     "«\u00a0{title}\u00a0»",
		someone:   "Quelqu’un",
		hello:     "Bonjour,",
		helloName: "Bonjour {name},",
		viewPost:  "Voir le message",
		colon:     "\u00a0: ",
		digestSubject: map[string][2]string{
			PeriodDaily:  {"Votre résumé du jour\u00a0: {n} nouveau message", "Votre résumé du jour\u00a0: {n} nouveaux messages"},
			PeriodWeekly: {"Votre résumé de la semaine\u00a0: {n} nouveau message", "Votre résumé de la semaine\u00a0: {n} nouveaux messages"},
		},
		digestIntro: map[string]string{
			PeriodDaily:  "Les nouveautés du jour dans les fils et les thèmes que vous suivez\u00a0:",
			PeriodWeekly: "Les nouveautés de la semaine dans les fils et les thèmes que vous suivez\u00a0:",
		},
		more:        [2]string{"et {n} autre message", "et {n} autres messages"},
		openForum:   "Ouvrir le forum",
		why:         "Vous recevez cet e-mail en raison de vos réglages de notification.",
		settings:    "Modifier vos réglages d’e-mail",
		unsubscribe: "Se désabonner",
		timeLayout:  "02/01/2006 15:04",
		singular:    func(n int) bool { return n <= 1 },
	},
	"es": {
		headline: map[string]string{
			KindReply:       "{actor} respondió en {title}",
			KindMention:     "{actor} te mencionó en {title}",
			KindWatchedPost: "{actor} publicó en {title}",
			KindFollowUp:    "{actor} abrió un seguimiento: {title}",
			KindResolved:    "{actor} marcó {title} como resuelto",
		},
		action: map[string]string{
			KindReply:       "{actor} respondió",
			KindMention:     "{actor} te mencionó",
			KindWatchedPost: "{actor} publicó",
			KindFollowUp:    "{actor} abrió un seguimiento",
			KindResolved:    "{actor} lo marcó como resuelto",
		},
		quote:     "«{title}»",
		someone:   "Alguien",
		hello:     "Hola:",
		helloName: "Hola, {name}:",
		viewPost:  "Ver el mensaje",
		colon:     ": ",
		digestSubject: map[string][2]string{
			PeriodDaily:  {"Tu resumen diario: {n} mensaje nuevo", "Tu resumen diario: {n} mensajes nuevos"},
			PeriodWeekly: {"Tu resumen semanal: {n} mensaje nuevo", "Tu resumen semanal: {n} mensajes nuevos"},
		},
		digestIntro: map[string]string{
			PeriodDaily:  "Novedades del día en los hilos y temas que sigues:",
			PeriodWeekly: "Novedades de la semana en los hilos y temas que sigues:",
		},
		more:        [2]string{"y {n} mensaje más", "y {n} mensajes más"},
		openForum:   "Abrir el foro",
		why:         "Recibes este correo por tu configuración de notificaciones.",
		settings:    "Cambiar tu configuración de correo",
		unsubscribe: "Darse de baja",
		timeLayout:  "02/01/2006 15:04",
		singular:    func(n int) bool { return n == 1 },
	},
}

// Languages returns the languages the templates are written in, the
// fallback first.
func Languages() []string { return []string{"en", "fr", "es"} }

// catalogFor returns lang's catalog and the language it is in: lang's
// primary subtag ("fr-CA" gives fr), or en when there is none for it.
func catalogFor(lang string) (*catalog, string) {
	lang = strings.ToLower(lang)
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	if c, ok := catalogs[lang]; ok {
		return c, lang
	}
	return catalogs["en"], "en"
}

// plural picks forms[0] or forms[1] for n and fills in {n}.
func (c *catalog) plural(forms [2]string, n int) string {
	f := forms[1]
	if c.singular(n) {
		f = forms[0]
	}
	return plain(fill(f, map[string]segment{"n": {Text: strconv.Itoa(n)}}))
}

// segment is a run of a sentence: text, shown in bold in HTML when Strong.
type segment struct {
	Text   string
	Strong bool
}

// fill replaces the {name} placeholders of format with args' segments,
// and returns the sentence as segments. A placeholder without an argument
// is left as it is.
func fill(format string, args map[string]segment) []segment {
	var out []segment
	for format != "" {
		open := strings.IndexByte(format, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(format[open:], '}')
		if end < 0 {
			break
		}
		arg, ok := args[format[open+1:open+end]]
		if !ok {
			out = append(out, segment{Text: format[:open+end+1]})
			format = format[open+end+1:]
			continue
		}
		if open > 0 {
			out = append(out, segment{Text: format[:open]})
		}
		out = append(out, arg)
		format = format[open+end+1:]
	}
	if format != "" {
		out = append(out, segment{Text: format})
	}
	return out
}

// plain returns the text of segs.
func plain(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteString(s.Text)
	}
	return b.String()
}
