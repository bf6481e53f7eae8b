package io.machinery.wire;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import io.machinery.Arg;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.Config;
import io.machinery.internal.GoJson;
import io.machinery.spi.GroupMeta;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The JSON wire format of Go Machinery v2 (spec §1): task messages, task states and group metadata.
 *
 * <p>Encoding writes byte for byte what Go's {@code encoding/json} writes: every key in Go's order
 * and spelling, {@code null} for absent lists, integers as integers, RFC 3339 times with
 * nanoseconds, {@code []uint8} as base64, {@code <>&} escaped. Decoding accepts anything Go may
 * write: keys match case-insensitively, unknown keys are ignored, {@code null} leaves a field at
 * its zero value, and numbers are kept exact (uint64 beyond {@code Long}) to be read by their
 * declared type later.
 *
 * <p>Decoding also survives hostile input (reliability review F1, F16): a task message nests at
 * most {@value GoJson#MAX_MESSAGE_DEPTH} levels (Go's own limit, so a chain of 4,999 tasks from Go
 * is read), each value in it (argument, header) and every other document at most {@value
 * GoJson#MAX_NESTING_DEPTH}, number tokens have at most {@value GoJson#MAX_NUMBER_LENGTH}
 * characters, keys at most {@value GoJson#MAX_NAME_LENGTH}; a task message is at most {@link
 * Config#maxMessageBytes()} bytes and its ids and routing keys are checked ({@code WireChecks}).
 * Bytes that are not UTF-8 and a byte-order mark are refused (Go refuses the mark too; it would
 * replace bad bytes by U+FFFD). Every failure is a {@link MalformedMessageException} quoting at
 * most 512 bytes of the input, escaped, with a SHA-256 prefix.
 *
 * <p>Nothing here walks a message's signatures recursively (reading, checking, writing: {@code
 * WireReader}, {@code WireChecks}, {@code SignatureWalk}), so a chain at the depth limit costs heap
 * in proportion to its length and a few stack frames, on a platform or a virtual thread alike.
 *
 * <p>Thread-safe; all methods are static. Brokers and backends of every module use this one codec.
 * This class writes; reading is in {@code WireReader}, the checks and error quoting in {@code
 * WireChecks}.
 */
public final class WireCodec {
  private WireCodec() {}

  // ----------------------------------------------------------------------------------------------
  // encoding

  /**
   * Writes a task message as Go writes it.
   *
   * @param signature the task
   * @return the 19-key JSON, UTF-8
   * @throws IllegalArgumentException if an argument's value cannot be written (nested deeper than
   *     {@value GoJson#MAX_NESTING_DEPTH} levels, say), or the message would nest deeper than the
   *     {@value GoJson#MAX_MESSAGE_DEPTH} levels a worker decodes (a chain of 5,000 tasks with
   *     arguments)
   */
  public static byte[] encode(Signature signature) {
    byte[] plain = PlainJson.signature(signature);
    return plain != null ? plain : encodeWithJackson(signature);
  }

  /** {@link #encode(Signature)} without {@code PlainJson}'s shortcut (its tests compare both). */
  static byte[] encodeWithJackson(Signature signature) {
    try {
      return write(GoJson.MESSAGE_FACTORY, out -> writeSignature(out, signature));
    } catch (UncheckedIOException e) {
      if (e.getCause() instanceof StreamConstraintsException) {
        throw GoJson.tooDeep(signature.name() + " " + signature.uuid());
      }
      throw e;
    }
  }

  /**
   * Checks a task the way every sender does before it encodes it ({@code Server.sendTask}, {@code
   * Server.sendChain}, the JDBC outbox), so that they refuse the same tasks with the same words:
   * the task has a name, and every argument's value fits its declared Go type (say, text declared
   * {@code int64}, or -1 declared {@code uint64}), in the task and in every callback nested in it
   * ({@code OnSuccess}, {@code OnError}, the chord callback).
   *
   * @param signature the task
   * @throws IllegalArgumentException naming the task and the argument's position (from 1) when a
   *     check fails, or when its callbacks nest it deeper than the {@value
   *     GoJson#MAX_MESSAGE_DEPTH} JSON levels a worker decodes (Go's limit: a chain longer than
   *     4,999 tasks with arguments, say)
   */
  public static void checkTask(Signature signature) {
    checkOwnFields(signature);
    if (signature.onSuccess().isEmpty()
        && signature.onError().isEmpty()
        && signature.chordCallback() == null) {
      return; // a plain task: nothing more to allocate or walk
    }
    // Without recursion: a chain nests thousands of callbacks. Each OnSuccess or OnError level
    // is two JSON levels (array, object), the chord callback one, arguments two more (array,
    // object): a lower bound of the encoded depth, which encode() checks exactly.
    ArrayDeque<Signature> open = new ArrayDeque<>();
    ArrayDeque<Integer> depths = new ArrayDeque<>();
    open.push(signature);
    depths.push(1);
    while (!open.isEmpty()) {
      Signature s = open.pop();
      int depth = depths.pop();
      if (s != signature) {
        checkOwnFields(s);
      }
      if ((s.args().isEmpty() ? depth : depth + 2) > GoJson.MAX_MESSAGE_DEPTH) {
        throw GoJson.tooDeep(signature.name() + " " + signature.uuid());
      }
      Signature chord = s.chordCallback();
      if (chord != null) {
        open.push(chord);
        depths.push(depth + 1);
      }
      for (int i = s.onError().size() - 1; i >= 0; i--) {
        open.push(s.onError().get(i));
        depths.push(depth + 2);
      }
      for (int i = s.onSuccess().size() - 1; i >= 0; i--) {
        open.push(s.onSuccess().get(i));
        depths.push(depth + 2);
      }
    }
  }

  /** The checks of {@link #checkTask} on one signature, not its callbacks. */
  private static void checkOwnFields(Signature signature) {
    if (signature.name().isEmpty()) {
      throw new IllegalArgumentException("a task signature needs a name");
    }
    List<Arg> args = signature.args();
    for (int i = 0; i < args.size(); i++) {
      try {
        args.get(i).typedValue();
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "argument " + (i + 1) + " of task " + signature.name() + ": " + e.getMessage(), e);
      }
    }
    Instant expires = signature.expiresAt(); // a header that is no time is refused here
    if (expires != null
        && signature.eta() != null
        && signature.eta().toInstant().isAfter(expires)) {
      throw new IllegalArgumentException(
          "task "
              + signature.name()
              + " expires at "
              + expires
              + ", before its ETA "
              + signature.eta().toInstant()
              + ": it could never run");
    }
  }

  /**
   * Checks a queue name that a person or a request gave a tool which reads or changes that queue
   * (the dashboard, the command line), by the rules a worker applies to a message's routing key: a
   * queue name is not empty, at most 255 UTF-8 bytes (AMQP's limit), has no control characters, and
   * names no key that is not a queue (Go's chord mutex, the delayed-task key, a task or group
   * state's id, this library's {@code {queue}:…} keys). On Redis a queue is a raw key, so a name
   * like {@code TriggerChordMutex} would otherwise read or purge a foreign key.
   *
   * @param queue the queue name
   * @param config the configuration whose delayed-task key is reserved
   * @throws IllegalArgumentException naming the queue and the rule it breaks
   */
  public static void checkQueueName(String queue, Config config) {
    if (queue.isEmpty()) {
      throw new IllegalArgumentException("a queue name cannot be empty");
    }
    WireChecks.checkRoutingKey(queue, config, "queue");
  }

  /**
   * Checks a task id that a person or a request gave a tool which reads or changes that task (the
   * dashboard, the command line), by the rules a worker applies to a message's UUID with relaxed
   * ids ({@code strict_uuids: false}), which every id a task can have passes: not empty, at most
   * 256 characters, no whitespace or control characters, not a group's id ({@code group_…}), and
   * names no key that is not a task state (Go's chord mutex, the delayed-task key, the default
   * queue, this library's {@code {queue}:…} keys). On Redis a task's id is the raw key of its
   * state, so a name like {@code TriggerChordMutex} would otherwise read a foreign key.
   *
   * @param uuid the task id
   * @param config the configuration whose delayed-task key and default queue are reserved
   * @throws IllegalArgumentException naming the id and the rule it breaks
   */
  public static void checkTaskId(String uuid, Config config) {
    if (uuid.isEmpty()) {
      throw new IllegalArgumentException("a task id cannot be empty");
    }
    WireChecks.checkRelaxedTaskUuid(uuid, config);
  }

  /**
   * Writes a task state as Go writes it.
   *
   * @param state the state
   * @return the JSON, UTF-8
   */
  public static byte[] encode(TaskState state) {
    byte[] plain = PlainJson.state(state);
    return plain != null ? plain : encodeWithJackson(state);
  }

  /** {@link #encode(TaskState)} without {@code PlainJson}'s shortcut (its tests compare both). */
  static byte[] encodeWithJackson(TaskState state) {
    return write(out -> writeState(out, state));
  }

  /**
   * Writes group metadata as Go writes it.
   *
   * @param meta the metadata
   * @return the JSON, UTF-8
   */
  public static byte[] encode(GroupMeta meta) {
    return write(
        out -> {
          out.writeStartObject();
          out.writeStringField("GroupUUID", meta.groupUuid());
          out.writeFieldName("TaskUUIDs");
          out.writeStartArray();
          for (String uuid : meta.taskUuids()) {
            out.writeString(uuid);
          }
          out.writeEndArray();
          out.writeBooleanField("ChordTriggered", meta.chordTriggered());
          out.writeBooleanField("Lock", meta.lock());
          out.writeStringField("CreatedAt", GoJson.formatTime(meta.createdAt()));
          out.writeNumberField("TTL", meta.ttl());
          out.writeEndObject();
        });
  }

  /**
   * Writes a list of results as Go stores it inside states.
   *
   * @param results the results
   * @return the JSON array ({@code [{"Type":..,"Value":..}]}), UTF-8
   */
  public static byte[] encodeResults(List<TaskResult> results) {
    return write(out -> writeResults(out, results));
  }

  private interface Writer {
    void write(JsonGenerator out) throws IOException;
  }

  private static byte[] write(Writer writer) {
    return write(GoJson.FACTORY, writer);
  }

  private static byte[] write(JsonFactory factory, Writer writer) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(512);
    try (JsonGenerator out = factory.createGenerator(bytes)) {
      writer.write(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static void writeSignature(JsonGenerator out, Signature signature) throws IOException {
    try {
      SignatureWalk.write(signature, new SignatureText(out));
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** The walk's text for Jackson's generator, which writes the commas itself. */
  private record SignatureText(JsonGenerator out) implements SignatureWalk.Writer {
    @Override
    public boolean head(Signature s, int depth) {
      try {
        out.writeStartObject();
        out.writeStringField("UUID", s.uuid());
        out.writeStringField("Name", s.name());
        out.writeStringField("RoutingKey", s.routingKey());
        OffsetDateTime eta = s.eta();
        if (eta == null) {
          out.writeNullField("ETA");
        } else {
          out.writeStringField("ETA", GoJson.formatTime(eta));
        }
        out.writeStringField("GroupUUID", s.groupUuid());
        out.writeNumberField("GroupTaskCount", s.groupTaskCount());
        out.writeFieldName("Args");
        if (!s.hasArgs()) {
          out.writeNull();
        } else {
          out.writeStartArray();
          for (Arg arg : s.args()) {
            out.writeStartObject();
            out.writeStringField("Name", arg.name());
            out.writeStringField("Type", arg.type());
            out.writeFieldName("Value");
            GoJson.writeValue(out, arg.value(), arg.type());
            out.writeEndObject();
          }
          out.writeEndArray();
        }
        out.writeFieldName("Headers");
        if (!s.hasHeaders()) {
          out.writeNull();
        } else {
          GoJson.writeValue(out, s.headers(), null);
        }
        out.writeNumberField("Priority", s.priority());
        out.writeBooleanField("Immutable", s.immutable());
        out.writeNumberField("RetryCount", s.retryCount());
        out.writeNumberField("RetryTimeout", s.retryTimeout());
        return true;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void key(String field) {
      try {
        out.writeFieldName(field);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void absent() {
      try {
        out.writeNull();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void startList() {
      try {
        out.writeStartArray();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void nextElement() {}

    @Override
    public void endList() {
      try {
        out.writeEndArray();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public boolean tail(Signature s) {
      try {
        out.writeStringField("BrokerMessageGroupId", s.brokerMessageGroupId());
        out.writeStringField("SQSReceiptHandle", s.sqsReceiptHandle());
        out.writeBooleanField("StopTaskDeletionOnError", s.stopTaskDeletionOnError());
        out.writeBooleanField("IgnoreWhenTaskNotRegistered", s.ignoreWhenTaskNotRegistered());
        out.writeEndObject();
        return true;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private static void writeState(JsonGenerator out, TaskState state) throws IOException {
    out.writeStartObject();
    out.writeStringField("TaskUUID", state.taskUuid());
    out.writeStringField("TaskName", state.taskName());
    out.writeStringField("State", state.state().name());
    out.writeFieldName("Results");
    if (!state.hasResults()) {
      out.writeNull();
    } else {
      writeResults(out, state.results());
    }
    out.writeStringField("Error", state.error());
    out.writeStringField("CreatedAt", GoJson.formatTime(state.createdAt()));
    out.writeNumberField("TTL", state.ttl());
    out.writeEndObject();
  }

  private static void writeResults(JsonGenerator out, List<TaskResult> results) throws IOException {
    out.writeStartArray();
    for (TaskResult result : results) {
      out.writeStartObject();
      out.writeStringField("Type", result.type());
      out.writeFieldName("Value");
      GoJson.writeValue(out, result.value(), result.type());
      out.writeEndObject();
    }
    out.writeEndArray();
  }

  // ----------------------------------------------------------------------------------------------
  // decoding

  /**
   * Reads a task message with the default checks ({@link Config#DEFAULT}: strict ids, at most
   * {@value Config#DEFAULT_MAX_MESSAGE_BYTES} bytes); see {@link #decodeSignature(byte[], Config)}.
   *
   * @param json the message
   * @return the task
   * @throws MalformedMessageException with Go's text when the bytes are not an acceptable task
   *     message
   */
  public static Signature decodeSignature(byte[] json) {
    return decodeSignature(json, Config.DEFAULT);
  }

  /**
   * Reads a task message, refusing what a hostile producer could use to stop or misdirect a worker:
   * more than {@link Config#maxMessageBytes()} bytes, nesting deeper than {@value
   * GoJson#MAX_MESSAGE_DEPTH} (Go's limit) or a value nested deeper than {@value
   * GoJson#MAX_NESTING_DEPTH}, number tokens longer than {@value GoJson#MAX_NUMBER_LENGTH}
   * characters, keys longer than {@value GoJson#MAX_NAME_LENGTH}, bytes that are not UTF-8, a
   * byte-order mark (as Go), and ids or routing keys that could name keys other than task states
   * and queues (see {@link Config#strictUuids()}). Each failure is a {@link
   * MalformedMessageException} whose text quotes at most 512 bytes of the message, escaped; nothing
   * else escapes, not even a {@link StackOverflowError}.
   *
   * @param json the message
   * @param config the limits: {@link Config#maxMessageBytes()} and {@link Config#strictUuids()}
   * @return the task
   * @throws MalformedMessageException with Go's text ({@code Could not unmarshal '<msg>' into a
   *     task signature: <reason>}) when the bytes are not an acceptable task message
   */
  public static Signature decodeSignature(byte[] json, Config config) {
    try {
      if (json.length > config.maxMessageBytes()) {
        throw new IllegalArgumentException(
            "message of "
                + json.length
                + " bytes is over the limit of "
                + config.maxMessageBytes()
                + " bytes (max_message_bytes)");
      }
      WireChecks.checkStart(json);
      Signature signature = WireReader.signature(json);
      WireChecks.checkSignature(signature, config);
      return signature;
    } catch (IOException | RuntimeException | StackOverflowError e) {
      throw malformed(json, "a task signature", e);
    }
  }

  /**
   * The exception for bytes that did not decode. A {@link StackOverflowError} is not kept as the
   * cause: its trace would be thousands of lines in a log.
   */
  private static MalformedMessageException malformed(byte[] json, String what, Throwable e) {
    String text =
        "Could not unmarshal '" + WireChecks.preview(json) + "' into " + what + ": " + reason(e);
    return e instanceof StackOverflowError
        ? new MalformedMessageException(text)
        : new MalformedMessageException(text, e);
  }

  /**
   * Reads a task state (nesting, number and key limits as for messages; no size limit, since states
   * come from the result backend and may hold large results).
   *
   * @param json the stored state
   * @return the state
   * @throws MalformedMessageException when the bytes are not a task state
   */
  public static TaskState decodeTaskState(byte[] json) {
    try {
      return WireReader.taskState(json);
    } catch (IOException | RuntimeException | StackOverflowError e) {
      throw malformed(json, "a task state", e);
    }
  }

  /**
   * Reads group metadata.
   *
   * @param json the stored metadata
   * @return the metadata
   * @throws MalformedMessageException when the bytes are not group metadata
   */
  public static GroupMeta decodeGroupMeta(byte[] json) {
    try {
      return WireReader.groupMeta(json);
    } catch (IOException | RuntimeException | StackOverflowError e) {
      throw malformed(json, "a group meta", e);
    }
  }

  /**
   * Reads the results list of a state.
   *
   * @param json the JSON array ({@code [{"Type":..,"Value":..}]})
   * @return the results
   * @throws MalformedMessageException when the bytes are not a results list
   */
  public static List<TaskResult> decodeResults(byte[] json) {
    try {
      return WireReader.results(WireReader.readDocument(json));
    } catch (IOException | RuntimeException | StackOverflowError e) {
      throw malformed(json, "task results", e);
    }
  }

  private static String reason(Throwable e) {
    if (e instanceof StackOverflowError) {
      return "nested too deeply for this thread's stack";
    }
    String message = e.getMessage();
    if (e instanceof com.fasterxml.jackson.core.JsonProcessingException j) {
      message = j.getOriginalMessage();
    }
    return WireChecks.reason(message == null ? e.getClass().getSimpleName() : message);
  }
}
