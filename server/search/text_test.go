package search

import "testing"

// TestLatinLanguage checks the language guess on the corpus's sentences
// and on posts that do not say.
func TestLatinLanguage(t *testing.T) {
	cases := []struct{ text, want string }{
		{corpus[0].text, "en"},
		{corpus[1].text, "en"},
		{corpus[3].text, "fr"},
		{corpus[4].text, ""}, // "La réunion aura lieu mardi prochain.": only la, which French and Spanish share
		{corpus[5].text, "es"},
		{corpus[6].text, "es"},
		{"Our volunteers organised workshops for host families in Nairobi and Mombasa.", "en"},
		{"Nous avons partagé le guide de reconnaissance du volontariat avec les ministères.", "fr"},
		{"El intercambio de conocimientos entre agencias fortaleció la cooperación con los ministerios.", "es"},
		{"Volunteers", ""},                // too short to say
		{"Harambee!", ""},                 // not one of the three
		{"the plan and le budget et", ""}, // as much of each
		{"我们在北京组织了志愿者培训活动。", ""}, // no Latin words
	}
	for _, c := range cases {
		if got := latinLanguage(c.text); got != c.want {
			t.Errorf("latinLanguage(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

// TestPlainText checks the text a post is indexed and cut into snippets
// by: words of adjacent blocks apart, inline markup joined, entities
// decoded, no tags.
func TestPlainText(t *testing.T) {
	cases := []struct{ html, want string }{
		{"<p>Hello <em>wor</em>ld</p><p>again</p>", "Hello world again"},
		{"<ul><li>one</li><li>two</li></ul>", "one two"},
		{"<p>a &lt;b&gt; &amp; c</p>", "a <b> & c"},
		{"<p>line<br>break</p>", "line break"},
		{"<pre><code>x := 1\n\ty</code></pre>", "x := 1 y"},
		{"", ""},
	}
	for _, c := range cases {
		if got := plainText(c.html); got != c.want {
			t.Errorf("plainText(%q) = %q, want %q", c.html, got, c.want)
		}
	}
}
