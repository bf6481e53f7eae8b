package io.machinery.dashboard;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import io.machinery.wire.ErrorText;
import io.machinery.wire.LogText;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Reading a request and writing a JSON answer or a download: the plumbing of {@link Api}. What a
 * request gets wrong here is a {@link Guard#badRequest} with the dashboard's own words.
 */
final class Exchanges {
  private static final int MAX_BODY = 256 * 1024;
  static final int MAX_QUOTED_CHARS = 64;

  /** The most of an underlying message an error answer quotes ({@link #detail}). */
  static final int MAX_DETAIL_BYTES = 300;

  /**
   * The longest query a read takes, undecoded: its parameters are a queue name (255 bytes), a task
   * UUID (256 characters), a search ({@link Api#MAX_SEARCH_CHARS}) and a few numbers, each at most
   * three times longer percent-encoded.
   */
  static final int MAX_QUERY_CHARS = 8_192;

  /** The most parameters a read's query has: a read takes at most five. */
  static final int MAX_QUERY_PARAMETERS = 16;

  private Exchanges() {}

  static JsonNode body(HttpExchange exchange) throws IOException {
    byte[] bytes;
    try (InputStream in = exchange.getRequestBody()) {
      bytes = in.readNBytes(MAX_BODY + 1);
    }
    if (bytes.length > MAX_BODY) {
      throw new Guard.Refused(413, "the request body is over " + MAX_BODY + " bytes");
    }
    if (bytes.length == 0) {
      return Guard.JSON.createObjectNode();
    }
    JsonNode node;
    try {
      node = Guard.JSON.readTree(bytes);
    } catch (JsonProcessingException e) {
      // Jackson's own text names its internals (tokens, parser states): say where, not what
      JsonLocation at = e.getLocation();
      throw Guard.badRequest(
          "the request body is not JSON"
              + (at == null
                  ? ""
                  : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"));
    }
    if (node == null || !node.isObject()) {
      throw Guard.badRequest("the request body must be a JSON object");
    }
    return node;
  }

  /** Request text for a message: quoted, cut and escaped as {@link #shown}. */
  static String quote(String requestText) {
    return "'" + shown(requestText) + "'";
  }

  /**
   * Text that came from a request or from a message, as an error answer shows it: cut to {@value
   * #MAX_QUOTED_CHARS} characters (a 256 KiB body or a 100 KB path must not come back whole),
   * control characters escaped (C0 and C1: a terminal that prints the answer would run an escape
   * sequence) and format characters too (a right-to-left override would show the text reversed).
   */
  static String shown(String text) {
    return escapeFormatCharacters(LogText.of(text, MAX_QUOTED_CHARS));
  }

  /**
   * The message of an exception from core, a broker or a control plane, where it helps the operator
   * (what a deployment lacks): a sentence to append, {@code " The deployment says: ..."}, cut to
   * {@value #MAX_DETAIL_BYTES} bytes ({@link ErrorText#cut}) and escaped; empty when there is none.
   */
  static String detail(@Nullable String message) {
    if (message == null || message.isBlank()) {
      return "";
    }
    String cut = ErrorText.cut(message.strip(), MAX_DETAIL_BYTES);
    return " The deployment says: " + escapeFormatCharacters(LogText.of(cut, Integer.MAX_VALUE));
  }

  private static String escapeFormatCharacters(String text) {
    StringBuilder out = null;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.getType(c) == Character.FORMAT) {
        if (out == null) {
          out = new StringBuilder(text.length() + 16).append(text, 0, i);
        }
        out.append(String.format("\\u%04x", (int) c));
      } else if (out != null) {
        out.append(c);
      }
    }
    return out == null ? text : out.toString();
  }

  static void json(HttpExchange exchange, JsonNode node) throws IOException {
    Guard.send(
        exchange, 200, "application/json; charset=utf-8", Guard.JSON.writeValueAsBytes(node));
  }

  static void download(HttpExchange exchange, String filename, String type, byte[] body)
      throws IOException {
    exchange
        .getResponseHeaders()
        .set("Content-Disposition", "attachment; filename=\"" + filename + "\"");
    Guard.send(exchange, 200, type, body);
  }

  /** A file name from untrusted text: letters, digits, dash, dot, underscore. */
  static String safe(String s) {
    String cleaned = s.replaceAll("[^A-Za-z0-9._-]", "_");
    return cleaned.length() > 80 ? cleaned.substring(0, 80) : cleaned;
  }

  static String required(Map<String, String> q, String name) {
    String value = q.get(name);
    if (value == null || value.isBlank()) {
      throw Guard.badRequest("the query parameter " + name + " is required");
    }
    return value;
  }

  static int intParam(Map<String, String> q, String name, int dflt, int min, int max) {
    String value = q.get(name);
    if (value == null || value.isEmpty()) {
      return dflt;
    }
    int n;
    try {
      n = Integer.parseInt(value);
    } catch (NumberFormatException e) {
      throw Guard.badRequest(name + " must be a number, was " + quote(value));
    }
    if (n < min || n > max) {
      throw Guard.badRequest(name + " must be " + min + ".." + max + ", was " + n);
    }
    return n;
  }

  static Map<String, String> query(HttpExchange exchange) {
    Map<String, String> out = new LinkedHashMap<>();
    String raw = exchange.getRequestURI().getRawQuery();
    if (raw == null || raw.isEmpty()) {
      return out;
    }
    if (raw.length() > MAX_QUERY_CHARS) {
      throw new Guard.Refused(
          414,
          "the query has "
              + raw.length()
              + " characters; the dashboard's reads take at most "
              + MAX_QUERY_CHARS
              + ": name a queue, a task or a search of at most "
              + Api.MAX_SEARCH_CHARS
              + " characters");
    }
    String[] pairs = raw.split("&", MAX_QUERY_PARAMETERS + 1);
    if (pairs.length > MAX_QUERY_PARAMETERS) {
      throw Guard.badRequest(
          "the query has more than "
              + MAX_QUERY_PARAMETERS
              + " parameters; the dashboard's reads take at most "
              + MAX_QUERY_PARAMETERS
              + " (name, tab, offset, limit, q, uuid, queue, id)");
    }
    for (String pair : pairs) {
      int eq = pair.indexOf('=');
      // the JDK's server refuses a bad % escape itself (400, "URISyntaxException thrown"), so
      // URLDecoder's IllegalArgumentException cannot happen here
      String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String value =
          eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      out.putIfAbsent(key, value);
    }
    return out;
  }
}
