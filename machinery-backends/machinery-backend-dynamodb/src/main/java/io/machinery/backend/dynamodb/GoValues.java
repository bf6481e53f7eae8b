package io.machinery.backend.dynamodb;

import io.machinery.TaskResult;
import io.machinery.internal.GoTypes;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Result values as Go's DynamoDB backend stores them: {@code fmt.Sprintf("%v", value)} in a string
 * attribute next to the Go type name, and back by that type.
 *
 * <p>{@code %v} of a float is {@code strconv.FormatFloat(f, 'g', -1, bits)}: shortest digits,
 * exponent form when the exponent is below -4 or at least 6 (Go's {@code %g} rule for the shortest
 * precision), e.g. {@code 200}, {@code 0.1}, {@code 1.234567e+06}, {@code 1e-05}. A slice is {@code
 * [a b c]} (bytes as numbers), so a {@code []string} whose elements contain spaces cannot be read
 * back exactly: Go's own format loses that, and it is kept for parity.
 */
final class GoValues {
  private GoValues() {}

  /** Go's {@code %v} of a result's value, read by its type first. */
  static String format(TaskResult result) {
    return format(result.typedValue(), result.type());
  }

  private static String format(@Nullable Object value, String type) {
    if (value == null) {
      return "<nil>";
    }
    if (value instanceof byte[] bytes) {
      return GoTypes.show(bytes);
    }
    if (value instanceof List<?> list) {
      String element = type.startsWith("[]") ? type.substring(2) : type;
      StringBuilder out = new StringBuilder("[");
      for (int i = 0; i < list.size(); i++) {
        out.append(i == 0 ? "" : " ").append(format(list.get(i), element));
      }
      return out.append(']').toString();
    }
    if (value instanceof Double d) {
      return formatFloat(d, type.equals("float32"));
    }
    if (value instanceof Float f) {
      return formatFloat(f, true);
    }
    return value.toString();
  }

  static String formatFloat(double value, boolean float32) {
    if (Double.isNaN(value)) {
      return "NaN";
    }
    if (Double.isInfinite(value)) {
      return value > 0 ? "+Inf" : "-Inf";
    }
    if (value == 0) {
      return (1 / value) < 0 ? "-0" : "0";
    }
    String shortest = float32 ? Float.toString((float) value) : Double.toString(value);
    BigDecimal digits = new BigDecimal(shortest).stripTrailingZeros();
    int exponent = digits.precision() - digits.scale() - 1;
    if (exponent < -4 || exponent >= 6) {
      String unscaled = digits.unscaledValue().abs().toString();
      StringBuilder out =
          new StringBuilder(digits.signum() < 0 ? "-" : "").append(unscaled.charAt(0));
      if (unscaled.length() > 1) {
        out.append('.').append(unscaled, 1, unscaled.length());
      }
      int abs = Math.abs(exponent);
      return out.append('e')
          .append(exponent < 0 ? '-' : '+')
          .append(abs < 10 ? "0" : "")
          .append(abs)
          .toString();
    }
    return digits.toPlainString();
  }

  /** Reads a {@code %v} text back by its Go type into a value {@link TaskResult} accepts. */
  static @Nullable Object parse(String type, String text) {
    if (text.equals("<nil>")) {
      return null;
    }
    if (type.startsWith("[]")) {
      String element = type.substring(2);
      String inner =
          text.startsWith("[") && text.endsWith("]") ? text.substring(1, text.length() - 1) : text;
      List<@Nullable Object> out = new ArrayList<>();
      if (!inner.isEmpty()) {
        for (String part : inner.split(" ", -1)) {
          out.add(parse(element, part));
        }
      }
      if (GoTypes.isByteSlice(type)) {
        byte[] bytes = new byte[out.size()];
        for (int i = 0; i < bytes.length; i++) {
          bytes[i] = (byte) ((BigInteger) out.get(i)).intValue();
        }
        return bytes;
      }
      return out;
    }
    return switch (type) {
      case "string" -> text;
      case "bool" -> Boolean.parseBoolean(text);
      case "float32", "float64" -> parseFloat(text);
      default -> new BigInteger(text); // every integer type; GoTypes narrows it by type
    };
  }

  private static double parseFloat(String text) {
    return switch (text) {
      case "NaN" -> Double.NaN;
      case "+Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      default -> Double.parseDouble(text);
    };
  }
}
