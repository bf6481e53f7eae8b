package io.machinery.backend.mongodb;

import static org.assertj.core.api.Assertions.assertThat;

import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/** The README's MongoDB example, verbatim, on the test server. */
class MongoDbReadmeExampleIT {

  @Test
  void theReadmeExampleRuns() {
    String mongoUrl = TestEndpoints.mongodbUri();
    List<Object> sum;
    State state;
    // README:mongodb:begin
    // io.machinery:machinery-backend-mongodb (mongodb-driver-sync 5.14)
    Config config =
        Config.builder()
            .resultBackend(mongoUrl)
            .build(); // mongodb://host:27017; a bare host:port works too
    try (MongoDbBackend backend = MongoDbBackend.create(config); // database "machinery", as Go
        Server server = Server.builder().config(config).backend(backend).build()) {
      server.registerTask("add", TaskFunction.varargs(long[].class, n -> LongStream.of(n).sum()));
      server.newWorker("mongo-worker", 4).launchAsync();
      sum =
          server
              .sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)))
              .get(Duration.ofSeconds(30));
    }
    // Go's cnf.MongoDB.Client / .Database: your own client (left open by the backend) and database
    try (MongoClient mongoClient = MongoClients.create(mongoUrl);
        MongoDbBackend backend =
            MongoDbBackend.builder(config).client(mongoClient).database("jobs").build()) {
      Signature task = Signature.create("add");
      backend.setStatePending(task);
      state = backend.getState(task.uuid()).orElseThrow().state();
    }
    // README:mongodb:end
    assertThat(sum).containsExactly(3L);
    assertThat(state).isEqualTo(State.PENDING);
  }
}
