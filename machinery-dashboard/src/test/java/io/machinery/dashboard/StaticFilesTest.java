package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The page's own rules, read from the files in the jar: the script never turns text into HTML (task
 * data is shown with textContent only), and the HTML has no inline script, handler or style for the
 * CSP to have to allow.
 */
class StaticFilesTest {
  private static String file(String name) throws IOException {
    try (InputStream in = StaticFiles.class.getResourceAsStream("static/" + name)) {
      assertThat(in).as(name).isNotNull();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void theScriptNeverParsesHtml() throws IOException {
    String js = file("app.js");
    for (String sink :
        new String[] {
          ".innerHTML",
          ".outerHTML",
          "insertAdjacentHTML",
          "document.write",
          "eval(",
          "new Function",
          "createContextualFragment",
          "DOMParser"
        }) {
      assertThat(js).as("app.js uses " + sink).doesNotContain(sink);
    }
    assertThat(js).contains("textContent");
  }

  @Test
  void theHtmlHasNoInlineScriptHandlerOrStyle() throws IOException {
    String html = file("index.html");
    assertThat(Pattern.compile("<script(?![^>]*\\bsrc=)[^>]*>").matcher(html).find())
        .as("inline <script>")
        .isFalse();
    assertThat(Pattern.compile("\\son[a-z]+\\s*=", Pattern.CASE_INSENSITIVE).matcher(html).find())
        .as("inline handler")
        .isFalse();
    assertThat(
            Pattern.compile("\\sstyle\\s*=|<style", Pattern.CASE_INSENSITIVE).matcher(html).find())
        .as("inline style")
        .isFalse();
    assertThat(html)
        .doesNotContain("http://")
        .doesNotContain("https://")
        .as("nothing from elsewhere");
  }
}
