package io.machinery.examples.spring;

import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.ChordAsyncResult;
import io.machinery.Group;
import io.machinery.QueueFullException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskState;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/**
 * Sends a chord per request and serves its result from the result backend. The request thread never
 * waits for the tasks: the answer is a handle ({@code 202 Accepted}, {@code Location:
 * /chords/<callback uuid>}) that any instance of the service can resolve, since the state lives in
 * the backend.
 */
@RestController
class ChordController {
  static final int MAX_PAIRS = 100;

  /** What a client refused because the queue is full is told to wait before it tries again. */
  static final long RETRY_AFTER_SECONDS = 5;

  private final Server server;

  ChordController(Server server) {
    this.server = server;
  }

  /**
   * {@code {"pairs": [[1, 1], [2, 2], [5, 6]]}}: one {@code add} per pair, then {@code multiply} of
   * the sums.
   */
  record ChordRequest(List<List<Long>> pairs) {}

  record ChordView(String id, String state, @Nullable Object result, @Nullable String error) {}

  @PostMapping("/chords")
  ResponseEntity<?> send(@RequestBody ChordRequest request) {
    List<List<Long>> pairs = request.pairs() == null ? List.of() : request.pairs();
    if (pairs.isEmpty() || pairs.size() > MAX_PAIRS) {
      return ResponseEntity.badRequest()
          .body(
              new ChordView(
                  "",
                  "REJECTED",
                  null,
                  "pairs must hold 1 to " + MAX_PAIRS + " lists of numbers, got " + pairs.size()));
    }
    List<Signature> adds = new ArrayList<>();
    for (List<Long> pair : pairs) {
      if (pair == null || pair.isEmpty() || pair.contains(null)) {
        return ResponseEntity.badRequest()
            .body(
                new ChordView(
                    "",
                    "REJECTED",
                    null,
                    "every entry of pairs must be a non-empty list of numbers"));
      }
      adds.add(Signature.create("add", pair.stream().map(Arg::of).toArray(Arg[]::new)));
    }
    // README:spring-send:begin
    ChordAsyncResult sent =
        server.sendChord(Chord.of(Group.of(adds), Signature.create("multiply")), 10);
    String id =
        sent.callbackResult()
            .taskUuid(); // GET /chords/{id} reads server.asyncResult(id).taskState()
    // README:spring-send:end
    return ResponseEntity.accepted()
        .location(URI.create("/chords/" + id))
        .body(new ChordView(id, "PENDING", null, null));
  }

  /**
   * The queue is full ({@code machinery.bounds} in application.yml): nothing was sent, and the
   * client is told to try again later.
   */
  @ExceptionHandler(QueueFullException.class)
  ResponseEntity<ChordView> queueFull(QueueFullException e) {
    return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE)
        .header(HttpHeaders.RETRY_AFTER, Long.toString(RETRY_AFTER_SECONDS))
        .body(new ChordView("", "REJECTED", null, e.getMessage()));
  }

  @GetMapping("/chords/{id}")
  ResponseEntity<ChordView> get(@PathVariable String id) {
    Optional<TaskState> state = server.asyncResult(id).taskState();
    if (state.isEmpty()) {
      // The callback's state appears when the group completes; before that the id is known only to
      // its sender.
      return ResponseEntity.ok(new ChordView(id, "PENDING", null, null));
    }
    TaskState s = state.get();
    Object result = s.results().isEmpty() ? null : s.results().get(0).value();
    return ResponseEntity.ok(
        new ChordView(id, s.state().name(), result, s.error().isEmpty() ? null : s.error()));
  }
}
