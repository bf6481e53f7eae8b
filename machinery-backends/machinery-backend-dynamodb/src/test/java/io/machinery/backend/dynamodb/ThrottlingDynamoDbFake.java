package io.machinery.backend.dynamodb;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.BatchGetItemRequest;
import software.amazon.awssdk.services.dynamodb.model.BatchGetItemResponse;
import software.amazon.awssdk.services.dynamodb.model.DeleteItemRequest;
import software.amazon.awssdk.services.dynamodb.model.DeleteItemResponse;
import software.amazon.awssdk.services.dynamodb.model.GetItemRequest;
import software.amazon.awssdk.services.dynamodb.model.GetItemResponse;
import software.amazon.awssdk.services.dynamodb.model.KeysAndAttributes;
import software.amazon.awssdk.services.dynamodb.model.PutItemRequest;
import software.amazon.awssdk.services.dynamodb.model.PutItemResponse;
import software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest;
import software.amazon.awssdk.services.dynamodb.model.UpdateItemResponse;

/**
 * A fake: dynalite never answers BatchGetItem with {@code UnprocessedKeys}, real DynamoDB does when
 * throttled. This client passes everything to dynalite, but lets each BatchGetItem read at most
 * {@code perCall} keys and hands the rest back as unprocessed, as a throttled table would.
 */
final class ThrottlingDynamoDbFake implements DynamoDbClient {
  private final DynamoDbClient real;
  private final int perCall;
  final AtomicInteger batchCalls = new AtomicInteger();

  ThrottlingDynamoDbFake(DynamoDbClient real, int perCall) {
    this.real = real;
    this.perCall = perCall;
  }

  @Override
  public BatchGetItemResponse batchGetItem(BatchGetItemRequest request) {
    batchCalls.incrementAndGet();
    Map<String, KeysAndAttributes> now = new HashMap<>();
    Map<String, KeysAndAttributes> later = new HashMap<>();
    request
        .requestItems()
        .forEach(
            (table, keys) -> {
              List<Map<String, AttributeValue>> all = new ArrayList<>(keys.keys());
              int cut = Math.min(perCall, all.size());
              now.put(table, keys.toBuilder().keys(all.subList(0, cut)).build());
              if (cut < all.size()) {
                later.put(table, keys.toBuilder().keys(all.subList(cut, all.size())).build());
              }
            });
    BatchGetItemResponse answered =
        real.batchGetItem(request.toBuilder().requestItems(now).build());
    return answered.toBuilder().unprocessedKeys(later).build();
  }

  @Override
  public GetItemResponse getItem(GetItemRequest request) {
    return real.getItem(request);
  }

  @Override
  public PutItemResponse putItem(PutItemRequest request) {
    return real.putItem(request);
  }

  @Override
  public UpdateItemResponse updateItem(UpdateItemRequest request) {
    return real.updateItem(request);
  }

  @Override
  public DeleteItemResponse deleteItem(DeleteItemRequest request) {
    return real.deleteItem(request);
  }

  @Override
  public String serviceName() {
    return real.serviceName();
  }

  @Override
  public void close() {
    // the real client belongs to TestTables
  }
}
