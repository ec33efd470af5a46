// `@daa/sdk/openai-agents`: kept apart from the main entry so that only apps using the OpenAI Agents
// SDK load this code. It imports nothing from `@openai/agents` at run time (types only).
export type { DaaAgentsTracingProcessorOptions } from './tracing-processor.js'
export { DaaAgentsTracingProcessor } from './tracing-processor.js'
