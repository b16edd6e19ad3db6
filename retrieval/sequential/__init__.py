"""Next-item recommendation from what a shopper viewed and bought: interaction data, baselines, evaluation."""
