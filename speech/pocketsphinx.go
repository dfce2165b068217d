package speech

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// DefaultPocketsphinx is the recognizer command of Debian's pocketsphinx
// package (version 0.8+5prealpha in Debian 12), looked up in PATH.
const DefaultPocketsphinx = "pocketsphinx_continuous"

// segmentPause is the shortest silence inside an utterance that starts a
// new segment; espeak-ng leaves about this much between sentences.
const segmentPause = 0.4

// Pocketsphinx recognizes speech offline with the pocketsphinx_continuous
// command and its default US English model (package pocketsphinx-en-us).
type Pocketsphinx struct {
	// Command is the pocketsphinx_continuous executable, DefaultPocketsphinx when empty.
	Command string
}

var _ Recognizer = Pocketsphinx{}

// Transcribe runs pocketsphinx_continuous on wavPath and splits its
// utterances into segments at pauses.
func (p Pocketsphinx) Transcribe(ctx context.Context, wavPath string) (Transcript, error) {
	command := p.Command
	if command == "" {
		command = DefaultPocketsphinx
	}

	var stdout, stderr bytes.Buffer

	// -time yes prints each word with its start and end time in seconds
	// from the start of the file; -logfn keeps the decoder's log off stderr.
	cmd := exec.CommandContext(ctx, command, "-infile", wavPath, "-time", "yes", "-logfn", "/dev/null")
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second

	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return Transcript{}, fmt.Errorf("recognize %s: %w", wavPath, ctx.Err())
		}

		if _, exited := errors.AsType[*exec.ExitError](err); exited {
			return Transcript{}, fmt.Errorf("%s failed on %s: %w: %s", command, wavPath, err,
				strings.TrimSpace(stderr.String()))
		}

		return Transcript{}, fmt.Errorf("run %s: %w", command, err)
	}

	segments := parsePocketsphinx(&stdout)

	return Transcript{Text: joinSegments(segments), Segments: segments}, nil
}

type timedWord struct {
	word       string
	start, end float64
}

// parsePocketsphinx reads pocketsphinx_continuous -time yes output: per
// utterance a line with the hypothesis, then one "word start end
// confidence" line per word, framed by <s> and </s>, with <sil> for pauses.
func parsePocketsphinx(r io.Reader) []Segment {
	var (
		segments []Segment
		current  []timedWord
	)

	flush := func() {
		if len(current) > 0 {
			segments = append(segments, segmentOf(current))
			current = nil
		}
	}

	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		word, ok := parseTimedWord(scanner.Text())
		if !ok {
			continue
		}

		switch {
		case word.word == "</s>":
			flush()
		case word.word == "<sil>" && word.end-word.start >= segmentPause:
			flush()
		case strings.HasPrefix(word.word, "<") || strings.HasPrefix(word.word, "["):
			// Utterance start, short pauses and noise fillers such as [NOISE].
		default:
			current = append(current, word)
		}
	}

	flush()

	return segments
}

func parseTimedWord(line string) (timedWord, bool) {
	fields := strings.Fields(line)
	if len(fields) != 4 {
		return timedWord{}, false
	}

	start, err1 := strconv.ParseFloat(fields[1], 64)
	end, err2 := strconv.ParseFloat(fields[2], 64)
	_, err3 := strconv.ParseFloat(fields[3], 64)

	if err1 != nil || err2 != nil || err3 != nil {
		return timedWord{}, false
	}

	// "tonight(2)" names the second pronunciation of "tonight" in the dictionary.
	word, _, _ := strings.Cut(fields[0], "(")

	return timedWord{word: word, start: start, end: end}, true
}

func segmentOf(words []timedWord) Segment {
	texts := make([]string, len(words))
	for i, word := range words {
		texts[i] = word.word
	}

	return Segment{Start: words[0].start, End: words[len(words)-1].end, Text: strings.Join(texts, " ")}
}
