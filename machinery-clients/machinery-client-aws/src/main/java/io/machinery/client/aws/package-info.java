/**
 * AWS SDK v2 client wiring shared by the SQS broker and the DynamoDB backend: {@link
 * io.machinery.client.aws.AwsClients}.
 */
@NullMarked
package io.machinery.client.aws;

import org.jspecify.annotations.NullMarked;
