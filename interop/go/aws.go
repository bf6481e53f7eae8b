package main

// SQS broker and DynamoDB backend for the interop harness, built with Go
// Machinery's own constructors (sqsbroker.New, dynamobackend.New) around
// clients pointed at local emulators:
//
//   -broker  http(s)://host:port/<account>  → SQS; endpoint from SQS_ENDPOINT
//            (else the URL's scheme://host:port), queue URL = broker + "/" + queue
//   -backend http(s)://host:port or dynamodb:// → DynamoDB; endpoint from
//            DYNAMODB_ENDPOINT (else the URL); tables from TASK_STATES_TABLE and
//            GROUP_METAS_TABLE (defaults task_states, group_metas)
//
// SQS_WAIT_TIME_SECONDS (default 1: Go's 0 is short polling, a busy loop),
// SQS_VISIBILITY_TIMEOUT and SQS_VISIBILITY_HEARTBEAT are Go's own settings.
// Without AWS credentials in the environment, dummy ones are used (emulators
// accept any); the region defaults to us-east-1.

import (
	"context"
	"net/url"
	"os"
	"strconv"

	dynamobackend "github.com/RichardKnop/machinery/v2/backends/dynamodb"
	backendsiface "github.com/RichardKnop/machinery/v2/backends/iface"
	brokersiface "github.com/RichardKnop/machinery/v2/brokers/iface"
	sqsbroker "github.com/RichardKnop/machinery/v2/brokers/sqs"
	"github.com/RichardKnop/machinery/v2/config"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func awsConfig() (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{}
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, awsconfig.WithRegion("us-east-1"))
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	return awsconfig.LoadDefaultConfig(context.TODO(), opts...)
}

// endpointOf returns the env value, else scheme://host[:port] of raw.
func endpointOf(env, raw string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func newSQSBroker(cnf *config.Config) (brokersiface.Broker, error) {
	cfg, err := awsConfig()
	if err != nil {
		return nil, err
	}
	endpoint := endpointOf("SQS_ENDPOINT", cnf.Broker)
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	cnf.SQS = &config.SQSConfig{
		Client:              client,
		WaitTimeSeconds:     envIntOr("SQS_WAIT_TIME_SECONDS", 1),
		VisibilityHeartBeat: os.Getenv("SQS_VISIBILITY_HEARTBEAT") == "true",
	}
	if v := os.Getenv("SQS_VISIBILITY_TIMEOUT"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			cnf.SQS.VisibilityTimeout = &n
		}
	}
	return sqsbroker.New(cnf)
}

func newDynamoDBBackend(cnf *config.Config) (backendsiface.Backend, error) {
	cfg, err := awsConfig()
	if err != nil {
		return nil, err
	}
	endpoint := endpointOf("DYNAMODB_ENDPOINT", cnf.ResultBackend)
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	cnf.DynamoDB = &config.DynamoDBConfig{
		Client:          client,
		TaskStatesTable: envOr("TASK_STATES_TABLE", "task_states"),
		GroupMetasTable: envOr("GROUP_METAS_TABLE", "group_metas"),
	}
	return dynamobackend.New(cnf)
}
