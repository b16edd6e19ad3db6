"""Review insights: each review sentence tagged with aspects (fit, comfort, durability, waterproofing, value,
shipping) and scored for sentiment at index time (cached by data fingerprint), then counted per product, with pros
and cons quoted and the product page's claims checked against what reviewers report."""

from retrieval.reviews.analysis import ReviewAnalysis, ScoredSentence, analyse_reviews, load_or_analyse
from retrieval.reviews.aspects import ASPECTS, claims_in, is_instruction, tag_aspects
from retrieval.reviews.insights import AspectCount, Contradiction, ProductInsights, Quote, ReviewInsights

__all__ = ["ASPECTS", "AspectCount", "Contradiction", "ProductInsights", "Quote", "ReviewAnalysis", "ReviewInsights",
           "ScoredSentence", "analyse_reviews", "claims_in", "is_instruction", "load_or_analyse", "tag_aspects"]
