package io.machinery.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamWriteConstraints;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * JSON reading and writing with Go's {@code encoding/json} conventions.
 *
 * <p>Writing: {@code <}, {@code >}, {@code &}, U+2028 and U+2029 are escaped as {@code \u003c}
 * etc.; map keys are sorted; floats use Go's shortest representation ({@code 200}, not {@code
 * 200.0}; exponent form below 1e-6 and from 1e21); times are RFC 3339 with trimmed nanoseconds.
 * Reading: numbers stay exact ({@code Long}, {@code BigInteger}, or {@code Double} for a token with
 * a fraction or exponent), as Go's {@code UseNumber}.
 */
public final class GoJson {
  private GoJson() {}

  private static final class GoEscapes extends CharacterEscapes {
    private static final long serialVersionUID = 1L;
    private final int[] table;

    GoEscapes() {
      table = CharacterEscapes.standardAsciiEscapesForJSON();
      table['<'] = CharacterEscapes.ESCAPE_CUSTOM;
      table['>'] = CharacterEscapes.ESCAPE_CUSTOM;
      table['&'] = CharacterEscapes.ESCAPE_CUSTOM;
    }

    @Override
    public int[] getEscapeCodesForAscii() {
      return table;
    }

    @Override
    public @Nullable SerializableString getEscapeSequence(int ch) {
      return switch (ch) {
        case '<' -> new SerializedString("\\u003c");
        case '>' -> new SerializedString("\\u003e");
        case '&' -> new SerializedString("\\u0026");
        case 0x2028 -> new SerializedString("\\u2028");
        case 0x2029 -> new SerializedString("\\u2029");
        default -> null;
      };
    }
  }

  /**
   * The deepest a value nests (an argument's or header's value, a result, a whole task state or
   * group meta): Go's argument and result types are flat, so no real value comes near it. Every
   * recursive step that walks a value (argument normalisation, typed reads, writing, {@code
   * equals}/{@code hashCode} of nested lists) is bounded by it, and survives a 256 KiB stack (a
   * quarter of the JVM default). {@link #readValue} counts it from the value's own start, so an
   * argument deep in a chain has the same room as one at its top; {@link #writeValue} refuses a
   * deeper value, so what a sender writes a worker reads.
   */
  public static final int MAX_NESTING_DEPTH = 256;

  /**
   * The deepest a task message nests: Go's {@code encoding/json} limit ({@code maxNestingDepth} in
   * its scanner), so a Java worker reads every message a Go worker reads. The deepest real message
   * is a chain, which {@code tasks.NewChain} nests two levels per link ({@code OnSuccess} array,
   * then the next signature): a chain of 4,999 tasks with arguments fits (5,000 without). Nothing
   * walks a message's signatures recursively (reading, checking, writing, {@code equals}), so the
   * depth costs heap, not stack; values inside it are bounded by {@link #MAX_NESTING_DEPTH} each.
   */
  public static final int MAX_MESSAGE_DEPTH = 10_000;

  /**
   * The refusal of a task whose message would nest deeper than {@link #MAX_MESSAGE_DEPTH}, in the
   * words every sender uses.
   *
   * @param task the task's name and UUID
   * @return the exception to throw
   */
  public static IllegalArgumentException tooDeep(String task) {
    return new IllegalArgumentException(
        "task "
            + task
            + " nests deeper than the "
            + MAX_MESSAGE_DEPTH
            + " JSON levels a worker decodes (Go's limit; each link of a chain nests two, so"
            + " 4,999 tasks with arguments fit): no worker could read it; split the chain,"
            + " sending its second half from the last task of the first");
  }

  /**
   * The longest number token, in characters. A uint64 has 20 digits and Go's shortest float64 text
   * at most 24; the limit keeps {@code BigInteger} arithmetic on hostile input cheap.
   */
  public static final int MAX_NUMBER_LENGTH = 100;

  /** The longest object key, in characters (Go's field names and header keys are short). */
  public static final int MAX_NAME_LENGTH = 4096;

  /**
   * Shared, thread-safe factory configured for Go's output and for hostile input: depth, number and
   * key lengths are bounded ({@link #MAX_NESTING_DEPTH}, {@link #MAX_NUMBER_LENGTH}, {@link
   * #MAX_NAME_LENGTH}); string values are limited only by the document, whose size the caller
   * bounds. For everything but task messages (states, group metas, results, progress).
   */
  public static final JsonFactory FACTORY = createFactory(MAX_NESTING_DEPTH);

  /**
   * {@link #FACTORY} for task messages: documents nest up to {@link #MAX_MESSAGE_DEPTH} levels,
   * read or written (Jackson's writer stops at 1,000 by default). Only for code that walks the
   * signatures without recursion and reads values with {@link #readValue}, which bounds each.
   */
  public static final JsonFactory MESSAGE_FACTORY = createFactory(MAX_MESSAGE_DEPTH);

  private static JsonFactory createFactory(int maxDepth) {
    JsonFactory factory =
        JsonFactory.builder()
            .streamReadConstraints(
                StreamReadConstraints.builder()
                    .maxStringLength(Integer.MAX_VALUE)
                    .maxNestingDepth(maxDepth)
                    .maxNumberLength(MAX_NUMBER_LENGTH)
                    .maxNameLength(MAX_NAME_LENGTH)
                    .build())
            .streamWriteConstraints(
                StreamWriteConstraints.builder()
                    .maxNestingDepth(Math.max(maxDepth, StreamWriteConstraints.DEFAULT_MAX_DEPTH))
                    .build())
            // Jackson pools its buffers per thread by default: with one virtual thread per task
            // that is one ~17 KB recycler per task in flight (20,000 in flight held 340 MB of
            // them). A pool shared by all threads (and both factories) keeps a handful.
            .recyclerPool(JsonRecyclerPools.sharedConcurrentDequePool())
            .build();
    factory.setCharacterEscapes(new GoEscapes());
    return factory;
  }

  /**
   * Go's {@code time.Time.MarshalJSON} text (RFC 3339, nanoseconds with trailing zeros trimmed).
   * Written digit by digit: every PENDING and completed state carries one, and a {@code
   * DateTimeFormatter} plus {@code String.format} cost several times the rest of the state.
   */
  public static String formatTime(OffsetDateTime time) {
    int year = time.getYear();
    if (year < 0 || year > 9999) {
      throw new IllegalArgumentException(
          "Time.MarshalJSON: year outside of range [0,9999]: " + time);
    }
    byte[] out = new byte[35]; // 2006-01-02T15:04:05.999999999-07:00
    digits(out, 0, year, 4);
    out[4] = '-';
    digits(out, 5, time.getMonthValue(), 2);
    out[7] = '-';
    digits(out, 8, time.getDayOfMonth(), 2);
    out[10] = 'T';
    digits(out, 11, time.getHour(), 2);
    out[13] = ':';
    digits(out, 14, time.getMinute(), 2);
    out[16] = ':';
    digits(out, 17, time.getSecond(), 2);
    int end = 19;
    int nanos = time.getNano();
    if (nanos != 0) {
      out[19] = '.';
      digits(out, 20, nanos, 9);
      end = 29;
      while (out[end - 1] == '0') {
        end--;
      }
    }
    int total = time.getOffset().getTotalSeconds();
    if (total == 0) {
      out[end++] = 'Z';
    } else {
      out[end++] = (byte) (total < 0 ? '-' : '+');
      total = Math.abs(total);
      digits(out, end, total / 3600, 2);
      out[end + 2] = ':';
      digits(out, end + 3, (total / 60) % 60, 2);
      end += 5;
    }
    return new String(out, 0, end, StandardCharsets.ISO_8859_1);
  }

  /** Writes {@code value} as {@code width} decimal digits, zero-padded, at {@code at}. */
  private static void digits(byte[] out, int at, int value, int width) {
    for (int i = at + width - 1; i >= at; i--) {
      out[i] = (byte) ('0' + value % 10);
      value /= 10;
    }
  }

  public static OffsetDateTime parseTime(String text) {
    return OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME);
  }

  /**
   * Go's float text: shortest digits that read back to the same value, plain notation for {@code
   * 1e-6 <= |x| < 1e21}, otherwise exponent notation ({@code 1e+21}, {@code 1e-7}).
   *
   * @throws IllegalArgumentException for NaN and infinities, which Go cannot encode either
   */
  public static String formatFloat(double value, boolean float32) {
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      throw new IllegalArgumentException("json: unsupported value: " + formatSpecial(value));
    }
    if (value == 0) {
      return (1 / value < 0) ? "-0" : "0";
    }
    String shortest = float32 ? Float.toString((float) value) : Double.toString(value);
    BigDecimal decimal = new BigDecimal(shortest).stripTrailingZeros();
    double abs = Math.abs(float32 ? (float) value : value);
    if (abs >= 1e-6 && abs < 1e21) {
      return decimal.toPlainString();
    }
    String digits = decimal.unscaledValue().abs().toString();
    int exponent = digits.length() - 1 - decimal.scale();
    StringBuilder out = new StringBuilder();
    if (decimal.signum() < 0) {
      out.append('-');
    }
    out.append(digits.charAt(0));
    if (digits.length() > 1) {
      out.append('.').append(digits, 1, digits.length());
    }
    out.append('e').append(exponent < 0 ? '-' : '+');
    int absExponent = Math.abs(exponent);
    // Go writes at least two exponent digits, then encoding/json drops the zero of "e-0X".
    if (absExponent < 10 && exponent >= 0) {
      out.append('0');
    }
    out.append(absExponent);
    return out.toString();
  }

  private static String formatSpecial(double value) {
    return Double.isNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
  }

  /**
   * Writes a value: JSON values as they are; {@code byte[]} as base64; Java arrays as lists; floats
   * per {@code goType} ("float32" uses float32 shortest digits).
   *
   * @throws IllegalArgumentException for a value nested deeper than {@link #MAX_NESTING_DEPTH}
   *     levels (no reader would take it), or one that is not a JSON value
   */
  public static void writeValue(JsonGenerator out, @Nullable Object value, @Nullable String goType)
      throws IOException {
    writeValue(out, value, goType, 0);
  }

  /** One stack frame per level of the value, and at most {@link #MAX_NESTING_DEPTH} of them. */
  private static void writeValue(
      JsonGenerator out, @Nullable Object value, @Nullable String goType, int depth)
      throws IOException {
    if (value == null) {
      out.writeNull();
    } else if (value instanceof String s) {
      out.writeString(s);
    } else if (value instanceof Boolean b) {
      out.writeBoolean(b);
    } else if (value instanceof Long
        || value instanceof Integer
        || value instanceof Short
        || value instanceof Byte) {
      out.writeNumber(((Number) value).longValue());
    } else if (value instanceof BigInteger b) {
      out.writeNumber(b);
    } else if (value instanceof Double || value instanceof Float || value instanceof BigDecimal) {
      double d = ((Number) value).doubleValue();
      boolean float32 =
          "float32".equals(goType) || "[]float32".equals(goType) || value instanceof Float;
      out.writeNumber(formatFloat(d, float32));
    } else if (value instanceof byte[] bytes) {
      out.writeString(Base64.getEncoder().encodeToString(bytes));
    } else if (value instanceof Map<?, ?> map) {
      checkValueDepth(depth + 1);
      out.writeStartObject();
      for (Map.Entry<String, ?> e : sorted(map).entrySet()) {
        out.writeFieldName(e.getKey());
        writeValue(out, e.getValue(), null, depth + 1);
      }
      out.writeEndObject();
    } else {
      List<?> list = GoTypes.asList(value);
      if (list == null) {
        throw new IllegalArgumentException(
            "cannot write " + value.getClass().getName() + " as JSON");
      }
      checkValueDepth(depth + 1);
      out.writeStartArray();
      for (Object item : list) {
        writeValue(out, item, goType, depth + 1);
      }
      out.writeEndArray();
    }
  }

  /**
   * Refuses a value nested deeper than {@link #MAX_NESTING_DEPTH}; {@code depth} counts the value's
   * own levels, from 1 for its outermost array or object.
   */
  private static void checkValueDepth(int depth) {
    if (depth > MAX_NESTING_DEPTH) {
      throw new IllegalArgumentException(
          "value nesting depth exceeds the maximum allowed ("
              + MAX_NESTING_DEPTH
              + " levels within an argument, header or result; Go's are flat)");
    }
  }

  private static TreeMap<String, Object> sorted(Map<?, ?> map) {
    TreeMap<String, Object> out = new TreeMap<>();
    for (Map.Entry<?, ?> e : map.entrySet()) {
      out.put(String.valueOf(e.getKey()), e.getValue());
    }
    return out;
  }

  /**
   * Reads the value at the parser's current token as plain JSON (numbers exact, objects in document
   * order, a later duplicate key wins). Iterative; on return the parser is at the value's last
   * token.
   *
   * @throws IOException for a float beyond float64's range (Go's {@code json.Number} could never be
   *     read as a number either), or a value nested deeper than {@link #MAX_NESTING_DEPTH} levels
   *     of its own, wherever it starts in the document
   */
  public static @Nullable Object readValue(JsonParser in) throws IOException {
    JsonToken token = in.currentToken();
    if (token == null) {
      throw new IOException("unexpected end of input");
    }
    if (token != JsonToken.START_ARRAY && token != JsonToken.START_OBJECT) {
      return scalar(in, token);
    }
    Object root = container(token);
    ArrayDeque<Object> open = new ArrayDeque<>();
    open.push(root);
    while (!open.isEmpty()) {
      JsonToken next = in.nextToken();
      if (next == null) {
        throw new IOException("unexpected end of input");
      }
      if (next == JsonToken.END_ARRAY || next == JsonToken.END_OBJECT) {
        open.pop();
        continue;
      }
      Object parent = open.peek();
      String name = null;
      if (parent instanceof Map) {
        name = in.currentName();
        next = in.nextToken();
        if (next == null) {
          throw new IOException("unexpected end of input");
        }
      }
      boolean nested = next == JsonToken.START_ARRAY || next == JsonToken.START_OBJECT;
      Object value = nested ? container(next) : scalar(in, next);
      if (parent instanceof Map<?, ?> map) {
        @SuppressWarnings("unchecked")
        Map<String, @Nullable Object> m = (Map<String, @Nullable Object>) map;
        m.put(java.util.Objects.requireNonNull(name), value);
      } else {
        @SuppressWarnings("unchecked")
        List<@Nullable Object> list = (List<@Nullable Object>) parent;
        list.add(value);
      }
      if (nested) {
        if (open.size() >= MAX_NESTING_DEPTH) {
          throw new IOException(
              "Value nesting depth ("
                  + (open.size() + 1)
                  + ") exceeds the maximum allowed ("
                  + MAX_NESTING_DEPTH
                  + " levels within an argument, header or result; Go's are flat)");
        }
        open.push(java.util.Objects.requireNonNull(value));
      }
    }
    return root;
  }

  private static Object container(JsonToken token) {
    return token == JsonToken.START_ARRAY
        ? new ArrayList<@Nullable Object>()
        : new LinkedHashMap<String, @Nullable Object>();
  }

  private static @Nullable Object scalar(JsonParser in, JsonToken token) throws IOException {
    switch (token) {
      case VALUE_NULL:
        return null;
      case VALUE_TRUE:
        return Boolean.TRUE;
      case VALUE_FALSE:
        return Boolean.FALSE;
      case VALUE_STRING:
        return in.getText();
      case VALUE_NUMBER_INT:
        {
          JsonParser.NumberType type = in.getNumberType();
          if (type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG) {
            return in.getLongValue();
          }
          BigInteger big = in.getBigIntegerValue();
          return big.bitLength() <= 63 ? (Object) big.longValue() : big;
        }
      case VALUE_NUMBER_FLOAT:
        {
          double d = in.getDoubleValue();
          if (Double.isInfinite(d)) {
            throw new IOException("number " + in.getText() + " is out of range of float64");
          }
          return d;
        }
      default:
        throw new IOException("unexpected JSON token " + token);
    }
  }
}
