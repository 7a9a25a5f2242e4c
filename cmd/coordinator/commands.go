package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/calls"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
)

// Bounds of the command reader.
const (
	// commandQueue bounds the commands waiting for an answer, and
	// commandsPerRoom one room's share of it: beyond them a command is
	// dropped with a log line, so a flood costs no memory and one room's
	// cannot crowd out the others'.
	commandQueue    = 64
	commandsPerRoom = 8
	// commandMaxAge: an older message is never run (a client's late
	// delivery, a backlog the sync window let through).
	commandMaxAge = 5 * time.Minute
	// commandTimeout bounds running one command, state fetch included.
	commandTimeout = 30 * time.Second
	// commandRouteQueue is the reader's route bound (Drop): it reads fast,
	// and a lost state event only makes it ask the homeserver.
	commandRouteQueue = 128
)

// commandRunner runs a permitted command (the call supervisor).
type commandRunner interface {
	Command(ctx context.Context, room id.RoomID, cmd calls.Command) calls.Result
}

// commandReader answers room commands: it reads the bot's room events,
// keeps each room's power levels and create event from the state it sees,
// and for each m.text "!call" message of a live sync (not the first
// sync's backlog, not older than commandMaxAge, not an edit, not ours)
// checks the sender's power level, has the supervisor run it, and answers
// with an m.notice reply. Answers go out one at a time, in order.
type commandReader struct {
	logger   *slog.Logger
	required map[calls.Verb]int
	self     func() (id.UserID, id.DeviceID)
	run      commandRunner
	send     noticeSender
	// fetch reads a room's auth state from the homeserver.
	fetch func(ctx context.Context, room id.RoomID) (*roomAuth, error)
	// dropped counts the events the reader's route lost: when it grows,
	// the state kept may be stale and is forgotten.
	dropped func() uint64
	now     func() time.Time
	// uploads fetches the audio message a "!call play" without a NAME
	// replies to (nil: such a play fails), within maxSoundBytes (zero:
	// media.DefaultMaxSoundBytes).
	uploads       uploadFetcher
	maxSoundBytes int64

	queue chan commandJob

	mu      sync.Mutex
	pending map[id.RoomID]int // queued, by room
}

// commandJob is one command to answer.
type commandJob struct {
	room   id.RoomID
	event  id.EventID
	sender id.UserID
	cmd    calls.Command
	// replyTo is the event the command replies to (play without a NAME
	// plays it).
	replyTo id.EventID
	err     error     // a parse error to answer instead
	auth    *roomAuth // the state the reader knew; nil: fetch it
	// untied says why an encrypted command's session is not tied to a
	// device of its sender; empty when it is, or the command was plain.
	untied string
}

func newCommandReader(logger *slog.Logger, level int, self func() (id.UserID, id.DeviceID), run commandRunner,
	send noticeSender, fetch func(context.Context, id.RoomID) (*roomAuth, error), dropped func() uint64) *commandReader {
	return &commandReader{logger: logger, required: calls.RequiredLevels(level), self: self, run: run, send: send,
		fetch: fetch, dropped: dropped, now: time.Now, queue: make(chan commandJob, commandQueue), pending: map[id.RoomID]int{}}
}

// commandRoute is the reader's route of the bot's events.
func commandRoute() matrixbot.Route {
	return matrixbot.Route{Name: "room_commands", Overflow: matrixbot.Drop, Queue: commandRouteQueue,
		Kinds: []matrixbot.Kind{matrixbot.KindState, matrixbot.KindTimeline, matrixbot.KindMembership, matrixbot.KindSyncDone}}
}

// Run reads in until ctx ends or in closes, and answers from a second
// goroutine; it returns when both have ended.
func (cr *commandReader) Run(ctx context.Context, in <-chan matrixbot.Event) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cr.answer(ctx)
	}()
	defer wg.Wait()
	rooms := map[id.RoomID]*roomAuth{}
	live := false
	var lost uint64
	stale := func() {
		if n := cr.dropped(); n != lost {
			lost = n
			clear(rooms)
			cr.logger.Warn("room command reader fell behind; reading power levels from the homeserver until they change again")
		}
	}
	for {
		var ev matrixbot.Event
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case ev, ok = <-in:
			if !ok {
				return nil
			}
		}
		switch ev.Kind {
		case matrixbot.KindSyncDone:
			// The first sync of a run is the backlog; what follows is live.
			live = true
			stale()
		case matrixbot.KindMembership:
			if ev.Membership != event.MembershipJoin {
				delete(rooms, ev.RoomID)
			}
		case matrixbot.KindState:
			if ev.Source == matrixbot.SourceInvite {
				continue
			}
			a := rooms[ev.RoomID]
			if a == nil {
				a = &roomAuth{}
			}
			if a.note(ev.Evt) {
				rooms[ev.RoomID] = a
			}
		case matrixbot.KindTimeline:
			if !live {
				continue
			}
			job, ok := cr.command(ev)
			if !ok {
				continue
			}
			stale()
			if a := rooms[ev.RoomID]; a.complete() {
				c := *a
				job.auth = &c
			}
			cr.enqueue(job)
		}
	}
}

// command reads a timeline event as a command; false: not one to answer.
func (cr *commandReader) command(ev matrixbot.Event) (commandJob, bool) {
	evt := ev.Evt
	if evt == nil || ev.Undecryptable || evt.Type != event.EventMessage {
		return commandJob{}, false
	}
	if self, _ := cr.self(); evt.Sender == self {
		return commandJob{}, false
	}
	if sent := time.UnixMilli(evt.Timestamp); cr.now().Sub(sent) > commandMaxAge {
		return commandJob{}, false
	}
	msg := evt.Content.AsMessage()
	if msg == nil || msg.MsgType != event.MsgText || msg.RelatesTo.GetReplaceID() != "" || msg.NewContent != nil {
		return commandJob{}, false // notices (bots), edits, everything but text
	}
	cmd, err := calls.ParseCommand(msg.Body)
	if errors.Is(err, calls.ErrNotCommand) {
		return commandJob{}, false
	}
	job := commandJob{room: ev.RoomID, event: evt.ID, sender: evt.Sender, cmd: cmd, replyTo: msg.RelatesTo.GetReplyTo(),
		err: err}
	if ev.Decrypted {
		job.untied = untiedSession(evt.Mautrix.TrustState)
	}
	return job, true
}

// untiedSession says why a Megolm session of trust state ts cannot be
// taken as the sender's: its key came forwarded, from a backup or from a
// device we do not know or whose keys do not match, or the device is
// blacklisted. Such a session could be anyone's (a homeserver can make up
// devices), so it may ask only what anyone may. Empty: it is one of the
// sender's devices, cross-signed or not.
func untiedSession(ts id.TrustState) string {
	switch ts {
	case id.TrustStateUnset, id.TrustStateCrossSignedUntrusted, id.TrustStateCrossSignedTOFU,
		id.TrustStateCrossSignedVerified, id.TrustStateVerified:
		return ""
	}
	return ts.String()
}

// enqueue queues job unless the queue or the room's share is full.
func (cr *commandReader) enqueue(job commandJob) {
	cr.mu.Lock()
	full := cr.pending[job.room] >= commandsPerRoom
	if !full {
		select {
		case cr.queue <- job:
			cr.pending[job.room]++
		default:
			full = true
		}
	}
	cr.mu.Unlock()
	if full {
		cr.logger.Warn("room command dropped: too many waiting", "room", job.room, "event_id", job.event, "sender", job.sender)
	}
}

// answer runs the queued commands one at a time until ctx ends.
func (cr *commandReader) answer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-cr.queue:
			cr.mu.Lock()
			if cr.pending[job.room]--; cr.pending[job.room] <= 0 {
				delete(cr.pending, job.room)
			}
			cr.mu.Unlock()
			cr.handle(ctx, job)
		}
	}
}

// handle answers one command.
func (cr *commandReader) handle(ctx context.Context, job commandJob) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	n, outcome := cr.outcome(ctx, job)
	what := job.cmd.String()
	if job.err != nil {
		what = job.err.Error()
	}
	cr.logger.Info("room command", "room", job.room, "event_id", job.event, "sender", job.sender,
		"command", what, "outcome", outcome)
	err := cr.send.SendNotice(ctx, job.room, matrixbot.Notice{Body: n.Body, HTML: n.HTML, ReplyTo: job.event})
	if err != nil && ctx.Err() == nil {
		cr.logger.Error("room command not answered", "room", job.room, "event_id", job.event, "err", err)
	}
}

// outcome is the notice answering job, and a word for the log.
func (cr *commandReader) outcome(ctx context.Context, job commandJob) (calls.Notice, string) {
	if n, ok := calls.ParseErrorNotice(job.err); ok {
		return n, "unreadable"
	}
	outcomes := [...]string{"done", "refused", "failed"}
	switch job.cmd.Verb {
	case calls.VerbHelp:
		return calls.HelpNotice(), "done"
	case calls.VerbStatus: // open to all: no levels needed
	default:
		if job.untied != "" {
			return job.cmd.Reply(calls.Result{Outcome: calls.OutcomeRefused, Reason: "Sorry, I cannot tell that this " +
				"message came from one of your devices (its encryption session is " + job.untied + "), so I only answer " +
				calls.CommandPrefix + " status and help to it."}), "refused"
		}
		levels, refused, n, outcome := cr.refusal(ctx, job)
		if refused {
			return n, outcome
		}
		if job.cmd.Verb == calls.VerbPlay && job.cmd.Name == "" {
			var failed *calls.Result
			if job.cmd.Sound, failed = cr.upload(ctx, job, levels); failed != nil {
				return job.cmd.Reply(*failed), outcomes[failed.Outcome]
			}
		}
	}
	res := cr.run.Command(ctx, job.room, job.cmd)
	return job.cmd.Reply(res), outcomes[res.Outcome]
}

// refusal checks job's sender against the room's power levels (fetched
// when the reader knew none), which it returns: refused tells whether the
// command is refused, with the notice saying why.
func (cr *commandReader) refusal(ctx context.Context, job commandJob) (levels calls.PowerLevels, refused bool, n calls.Notice, outcome string) {
	auth := job.auth
	if auth == nil {
		var err error
		if auth, err = cr.fetch(ctx, job.room); err != nil {
			cr.logger.Warn("room command: power levels unknown", "room", job.room, "err", err)
			return levels, true, job.cmd.Reply(calls.Result{Outcome: calls.OutcomeFailed,
				Reason: "I could not read this room's power levels; try again later"}), "failed"
		}
	}
	levels, err := auth.levels()
	if err != nil {
		cr.logger.Warn("room command: power levels unreadable", "room", job.room, "err", err)
		return levels, true, job.cmd.Reply(calls.Result{Outcome: calls.OutcomeRefused,
			Reason: "Sorry, I cannot read this room's power levels, so I only answer " + calls.CommandPrefix + " status and help."}), "refused"
	}
	if ok, reason := calls.Permitted(job.cmd, job.sender, levels, cr.required); !ok {
		return levels, true, job.cmd.Reply(calls.Result{Outcome: calls.OutcomeRefused, Reason: reason}), "refused"
	}
	return levels, false, calls.Notice{}, ""
}
