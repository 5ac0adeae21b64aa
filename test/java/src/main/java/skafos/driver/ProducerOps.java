package skafos.driver;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;

/** Producer commands. */
final class ProducerOps {
  private ProducerOps() {}

  static Object run(String op, KafkaProducer<String, String> p, JsonNode cmd, Clients clients) throws Exception {
    long timeoutMs = cmd.path("timeoutMs").asLong(30_000);
    switch (op) {
      case "send":
        return send(p, cmd, timeoutMs);
      case "flush":
        p.flush();
        return Map.of();
      case "initTransactions":
        p.initTransactions();
        return Map.of();
      case "beginTransaction":
        p.beginTransaction();
        return Map.of();
      case "commitTransaction":
        p.commitTransaction();
        return Map.of();
      case "abortTransaction":
        p.abortTransaction();
        return Map.of();
      case "sendOffsetsToTransaction": {
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (JsonNode o : cmd.path("offsets")) offsets.put(Clients.tp(o), new OffsetAndMetadata(o.path("offset").asLong()));
        // The group's metadata from a consumer of this driver (generation and member id, KIP-447), else the group id alone.
        ConsumerGroupMetadata meta = cmd.has("consumer")
            ? clients.consumer(cmd.path("consumer").asText()).groupMetadata(timeoutMs)
            : new ConsumerGroupMetadata(cmd.path("groupId").asText());
        p.sendOffsetsToTransaction(offsets, meta);
        return Map.of();
      }
      case "partitionsFor": {
        List<Integer> out = new ArrayList<>();
        p.partitionsFor(cmd.path("topic").asText()).forEach(i -> out.add(i.partition()));
        return out;
      }
      default:
        throw new IllegalArgumentException("unknown producer op " + op);
    }
  }

  /**
   * Sends the listed records, or `generate: {count, keyPrefix, valuePrefix, partition}` generated ones (key and
   * value are the prefix and the index), then flushes and waits for every acknowledgement. Answers each record's
   * partition and offset in sending order, or the first error.
   */
  private static Object send(KafkaProducer<String, String> p, JsonNode cmd, long timeoutMs) throws Exception {
    String topic = cmd.path("topic").asText();
    List<Future<RecordMetadata>> futures = new ArrayList<>();
    if (cmd.has("generate")) {
      JsonNode g = cmd.path("generate");
      int count = g.path("count").asInt();
      Integer partition = g.has("partition") ? g.path("partition").asInt() : null;
      String keyPrefix = g.has("keyPrefix") ? g.path("keyPrefix").asText() : null;
      String valuePrefix = g.path("valuePrefix").asText("v");
      for (int i = 0; i < count; i++) {
        futures.add(p.send(new ProducerRecord<>(topic, partition, keyPrefix == null ? null : keyPrefix + i, valuePrefix + i)));
      }
    }
    for (JsonNode r : cmd.path("records")) {
      RecordHeaders headers = new RecordHeaders();
      for (Iterator<Map.Entry<String, JsonNode>> it = r.path("headers").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> h = it.next();
        headers.add(h.getKey(), h.getValue().isNull() ? null : h.getValue().asText().getBytes(StandardCharsets.UTF_8));
      }
      futures.add(p.send(new ProducerRecord<>(
          topic,
          r.has("partition") ? r.path("partition").asInt() : null,
          r.has("timestamp") ? r.path("timestamp").asLong() : null,
          text(r.path("key")),
          text(r.path("value")),
          headers)));
    }
    if (!cmd.path("noFlush").asBoolean(false)) p.flush();
    long deadline = System.currentTimeMillis() + timeoutMs;
    List<List<Long>> acks = new ArrayList<>(futures.size());
    for (Future<RecordMetadata> f : futures) {
      RecordMetadata m = f.get(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
      acks.add(List.of((long) m.partition(), m.offset()));
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("acks", acks);
    return out;
  }

  private static String text(JsonNode n) {
    return n.isMissingNode() || n.isNull() ? null : n.asText();
  }
}
