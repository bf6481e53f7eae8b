package io.machinery.dashboard;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import io.machinery.wire.LogText;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reading a request and writing a JSON answer or a download: the plumbing of {@link Api}. What a
 * request gets wrong here is a {@link Guard#badRequest} with the dashboard's own words.
 */
final class Exchanges {
  private static final int MAX_BODY = 256 * 1024;
  static final int MAX_QUOTED_CHARS = 64;

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

  /**
   * Request text for a message: quoted, control characters escaped, cut to {@value
   * #MAX_QUOTED_CHARS} characters (a 256 KiB body must not come back whole in an error).
   */
  static String quote(String requestText) {
    return "'" + LogText.of(requestText, MAX_QUOTED_CHARS) + "'";
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
    for (String pair : raw.split("&")) {
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
