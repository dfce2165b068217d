package speech

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Summary is a short text and the keywords of a transcript.
type Summary struct {
	Text     string   `json:"summary"`
	Keywords []string `json:"keywords"`
}

// Summarizer condenses a transcript.
type Summarizer interface {
	Summarize(ctx context.Context, transcript Transcript) (Summary, error)
}

// Extractive summarises offline: it keeps the segments whose words are most
// frequent in the whole transcript, in their original order, and returns
// the most frequent words as keywords.
type Extractive struct {
	// Sentences is how many segments the summary keeps; 3 when 0.
	Sentences int
	// Keywords is how many keywords are returned; 5 when 0.
	Keywords int
}

var _ Summarizer = Extractive{}

// Summarize never fails; ctx is unused because the work is short.
func (e Extractive) Summarize(_ context.Context, transcript Transcript) (Summary, error) {
	sentences := cmp.Or(e.Sentences, 3)
	keywordCount := cmp.Or(e.Keywords, 5)

	units := summaryUnits(transcript)
	frequency := map[string]int{}

	for _, unit := range units {
		for _, word := range contentWords(unit) {
			frequency[word]++
		}
	}

	return Summary{
		Text:     strings.Join(topUnits(units, frequency, sentences), " "),
		Keywords: topWords(frequency, keywordCount),
	}, nil
}

// summaryUnits returns the transcript's segments, or its text when it has none.
func summaryUnits(transcript Transcript) []string {
	var units []string

	for _, segment := range transcript.Segments {
		if text := strings.TrimSpace(segment.Text); text != "" {
			units = append(units, text)
		}
	}

	if len(units) == 0 && strings.TrimSpace(transcript.Text) != "" {
		units = []string{strings.TrimSpace(transcript.Text)}
	}

	return units
}

// topUnits returns the n units with the highest mean word frequency, in
// transcript order.
func topUnits(units []string, frequency map[string]int, n int) []string {
	type scored struct {
		index int
		score float64
	}

	ranked := make([]scored, 0, len(units))

	for i, unit := range units {
		words := contentWords(unit)
		total := 0

		for _, word := range words {
			total += frequency[word]
		}

		score := 0.0
		if len(words) > 0 {
			score = float64(total) / float64(len(words))
		}

		ranked = append(ranked, scored{index: i, score: score})
	}

	slices.SortStableFunc(ranked, func(a, b scored) int { return cmp.Compare(b.score, a.score) })
	ranked = ranked[:min(n, len(ranked))]
	slices.SortFunc(ranked, func(a, b scored) int { return cmp.Compare(a.index, b.index) })

	kept := make([]string, len(ranked))
	for i, r := range ranked {
		kept[i] = units[r.index]
	}

	return kept
}

// topWords returns the n most frequent words, ties broken alphabetically.
func topWords(frequency map[string]int, n int) []string {
	words := make([]string, 0, len(frequency))
	for word := range frequency {
		words = append(words, word)
	}

	slices.SortFunc(words, func(a, b string) int {
		return cmp.Or(cmp.Compare(frequency[b], frequency[a]), cmp.Compare(a, b))
	})

	return words[:min(n, len(words))]
}

// contentWords returns the lower-case words of text that carry meaning:
// at least three letters and not a common English function word.
func contentWords(text string) []string {
	fields := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	})

	words := fields[:0]
	for _, word := range fields {
		if len(word) >= 3 && !stopWords[word] {
			words = append(words, word)
		}
	}

	return words
}

var stopWords = func() map[string]bool {
	set := map[string]bool{}
	for _, word := range strings.Fields(`the and for are but not you all any can had her was one our out
		has him his how its may new now old see two way who did get let put say she too use that with
		have this will your from they been were said each which their there what about would them then
		into more some could other than these also just like very when where while here well okay yeah
		we're it's i'm don't that's there's you're they're let's going gonna want know think`) {
		set[word] = true
	}

	return set
}()

// ChatSummarizer requests a summary and keywords from an OpenAI-compatible
// POST /chat/completions endpoint.
type ChatSummarizer struct {
	Config OpenAIConfig
}

var _ Summarizer = ChatSummarizer{}

const summaryPrompt = "You summarise meeting transcripts. Reply with only a JSON object " +
	`{"summary": "...", "keywords": ["..."]}: a summary of at most three sentences and up to ` +
	"five keywords."

type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatResponse struct {
	Choices []struct {
		Message chatMessage `json:"message"`
	} `json:"choices"`
}

// Summarize sends the transcript's text to the chat model. A reply that is
// not the requested JSON object is kept whole as the summary, with
// keywords from the extractive summariser.
func (c ChatSummarizer) Summarize(ctx context.Context, transcript Transcript) (Summary, error) {
	body, err := encodeJSON(chatRequest{
		Model: c.Config.Model,
		Messages: []chatMessage{
			{Role: "system", Content: summaryPrompt},
			{Role: "user", Content: transcript.Text},
		},
	})
	if err != nil {
		return Summary{}, fmt.Errorf("encode chat request: %w", err)
	}

	var response chatResponse
	if err := c.Config.post(ctx, "/chat/completions", "application/json", body, &response); err != nil {
		return Summary{}, fmt.Errorf("summarise transcript: %w", err)
	}

	if len(response.Choices) == 0 {
		return Summary{}, fmt.Errorf("summarise transcript: the chat response of %s has no choices",
			c.Config.endpoint("/chat/completions"))
	}

	content := strings.TrimSpace(response.Choices[0].Message.Content)
	content = strings.TrimSuffix(strings.TrimPrefix(content, "```json"), "```")

	var summary Summary
	if err := json.Unmarshal([]byte(strings.TrimSpace(content)), &summary); err == nil && summary.Text != "" {
		return summary, nil
	}

	fallback, _ := Extractive{}.Summarize(ctx, transcript)

	return Summary{Text: strings.TrimSpace(content), Keywords: fallback.Keywords}, nil
}
