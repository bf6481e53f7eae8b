package io.machinery.wire;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.internal.GoJson;
import java.time.OffsetDateTime;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The common task message and task state written straight into bytes, without Jackson: every send
 * writes both (the message and its PENDING state), and Jackson's generator was about half of a
 * sending thread's CPU.
 *
 * <p>Design notes. It writes only what needs no judgement, byte for byte as {@link WireCodec}'s
 * Jackson path does: strings of printable ASCII that need no escape (no {@code "}, {@code \},
 * {@code <}, {@code >}, {@code &}), integers, booleans, nulls, Go times, and argument, header and
 * result values of those kinds (header keys sorted, as {@code GoJson.writeValue}). Anything else
 * (an escape, a non-ASCII character, a float, bytes, a list, a nested map, a key that is not a
 * string) makes it give up and return null, and the caller writes the whole document with Jackson:
 * so there is one definition of every tricky case, and this class cannot disagree with it. {@code
 * PlainJsonTest} compares both paths over many documents. Both follow one walk of the nested
 * signatures ({@link SignatureWalk}, iterative); this one gives up on a signature within two levels
 * of {@link GoJson#MAX_MESSAGE_DEPTH}, where Jackson's writer checks the depth exactly.
 *
 * <p>Not thread-safe; one instance writes one document.
 */
final class PlainJson {
  private byte[] out = new byte[512];
  private int size;

  private PlainJson() {}

  /** The task message, or null when Jackson must write it. */
  static byte @Nullable [] signature(Signature s) {
    PlainJson w = new PlainJson();
    return SignatureWalk.write(s, w.new SignatureText()) ? w.bytes() : null;
  }

  /** The task state, or null when Jackson must write it. */
  static byte @Nullable [] state(TaskState state) {
    PlainJson w = new PlainJson();
    return w.writeState(state) ? w.bytes() : null;
  }

  private byte[] bytes() {
    return Arrays.copyOf(out, size);
  }

  /** The walk's text for this writer: giving up where any part needs judgement. */
  private final class SignatureText implements SignatureWalk.Writer {
    @Override
    public boolean head(Signature s, int depth) {
      if (depth + 2 > GoJson.MAX_MESSAGE_DEPTH) {
        return false; // at the limit: Jackson writes it and refuses it exactly
      }
      raw("{\"UUID\":");
      if (!string(s.uuid())) {
        return false;
      }
      raw(",\"Name\":");
      if (!string(s.name())) {
        return false;
      }
      raw(",\"RoutingKey\":");
      if (!string(s.routingKey())) {
        return false;
      }
      raw(",\"ETA\":");
      OffsetDateTime eta = s.eta();
      if (eta == null) {
        raw("null");
      } else if (!string(GoJson.formatTime(eta))) {
        return false;
      }
      raw(",\"GroupUUID\":");
      if (!string(s.groupUuid())) {
        return false;
      }
      raw(",\"GroupTaskCount\":");
      number(s.groupTaskCount());
      raw(",\"Args\":");
      if (!s.hasArgs()) {
        raw("null");
      } else {
        out('[');
        List<Arg> args = s.args();
        for (int i = 0; i < args.size(); i++) {
          Arg arg = args.get(i);
          raw(i == 0 ? "{\"Name\":" : ",{\"Name\":");
          if (!string(arg.name())) {
            return false;
          }
          raw(",\"Type\":");
          if (!string(arg.type())) {
            return false;
          }
          raw(",\"Value\":");
          if (!scalar(arg.value())) {
            return false;
          }
          out('}');
        }
        out(']');
      }
      raw(",\"Headers\":");
      if (!s.hasHeaders()) {
        raw("null");
      } else if (!headers(s.headers())) {
        return false;
      }
      raw(",\"Priority\":");
      number(s.priority());
      raw(",\"Immutable\":");
      raw(s.immutable() ? "true" : "false");
      raw(",\"RetryCount\":");
      number(s.retryCount());
      raw(",\"RetryTimeout\":");
      number(s.retryTimeout());
      return true;
    }

    @Override
    public void key(String field) {
      out(',');
      out('"');
      raw(field);
      out('"');
      out(':');
    }

    @Override
    public void absent() {
      raw("null");
    }

    @Override
    public void startList() {
      out('[');
    }

    @Override
    public void nextElement() {
      out(',');
    }

    @Override
    public void endList() {
      out(']');
    }

    @Override
    public boolean tail(Signature s) {
      raw(",\"BrokerMessageGroupId\":");
      if (!string(s.brokerMessageGroupId())) {
        return false;
      }
      raw(",\"SQSReceiptHandle\":");
      if (!string(s.sqsReceiptHandle())) {
        return false;
      }
      raw(",\"StopTaskDeletionOnError\":");
      raw(s.stopTaskDeletionOnError() ? "true" : "false");
      raw(",\"IgnoreWhenTaskNotRegistered\":");
      raw(s.ignoreWhenTaskNotRegistered() ? "true" : "false");
      out('}');
      return true;
    }
  }

  /** A header map as {@code GoJson.writeValue} writes it: keys sorted, values plain. */
  private boolean headers(Map<String, @Nullable Object> headers) {
    if (headers.isEmpty()) {
      raw("{}");
      return true;
    }
    // forEach, not keySet(): a map keeps the views it hands out, for as long as the task lives
    Object[] keys = new Object[headers.size()];
    int[] n = {0};
    headers.forEach((key, value) -> keys[n[0]++] = key);
    for (Object key : keys) {
      if (!(key instanceof String)) {
        return false; // GoJson sorts String.valueOf(key); leave that to it
      }
    }
    Arrays.sort(keys);
    out('{');
    for (int i = 0; i < keys.length; i++) {
      if (i > 0) {
        out(',');
      }
      String key = (String) keys[i];
      if (!string(key)) {
        return false;
      }
      out(':');
      if (!scalar(headers.get(key))) {
        return false;
      }
    }
    out('}');
    return true;
  }

  private boolean writeState(TaskState state) {
    raw("{\"TaskUUID\":");
    if (!string(state.taskUuid())) {
      return false;
    }
    raw(",\"TaskName\":");
    if (!string(state.taskName())) {
      return false;
    }
    raw(",\"State\":");
    if (!string(state.state().name())) {
      return false;
    }
    raw(",\"Results\":");
    if (!state.hasResults()) {
      raw("null");
    } else {
      out('[');
      List<TaskResult> results = state.results();
      for (int i = 0; i < results.size(); i++) {
        TaskResult result = results.get(i);
        raw(i == 0 ? "{\"Type\":" : ",{\"Type\":");
        if (!string(result.type())) {
          return false;
        }
        raw(",\"Value\":");
        if (!scalar(result.value())) {
          return false;
        }
        out('}');
      }
      out(']');
    }
    raw(",\"Error\":");
    if (!string(state.error())) {
      return false;
    }
    raw(",\"CreatedAt\":");
    if (!string(GoJson.formatTime(state.createdAt()))) {
      return false;
    }
    raw(",\"TTL\":");
    number(state.ttl());
    out('}');
    return true;
  }

  /** A value {@code GoJson.writeValue} writes without judgement; false for any other. */
  private boolean scalar(@Nullable Object value) {
    if (value == null) {
      raw("null");
      return true;
    }
    if (value instanceof String s) {
      return string(s);
    }
    if (value instanceof Boolean b) {
      raw(b ? "true" : "false");
      return true;
    }
    if (value instanceof Long
        || value instanceof Integer
        || value instanceof Short
        || value instanceof Byte) {
      number(((Number) value).longValue());
      return true;
    }
    return false;
  }

  /** A quoted string when every character is printable ASCII that JSON and Go leave as it is. */
  private boolean string(String s) {
    int n = s.length();
    ensure(n + 2);
    byte[] b = out;
    int at = size;
    b[at++] = '"';
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&') {
        return false;
      }
      b[at++] = (byte) c;
    }
    b[at++] = '"';
    size = at;
    return true;
  }

  private void number(long value) {
    raw(Long.toString(value));
  }

  /** Text known to be ASCII (keys, literals, digits). */
  private void raw(String ascii) {
    int n = ascii.length();
    ensure(n);
    byte[] b = out;
    int at = size;
    for (int i = 0; i < n; i++) {
      b[at++] = (byte) ascii.charAt(i);
    }
    size = at;
  }

  private void out(char c) {
    ensure(1);
    out[size++] = (byte) c;
  }

  private void ensure(int more) {
    if (size + more > out.length) {
      out = Arrays.copyOf(out, Math.max(out.length * 2, size + more));
    }
  }
}
